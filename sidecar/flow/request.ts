import type { SigningKey } from '../../api/shared/base/keys.ts';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import {
  API_FLOW_REQUESTS_PATH,
  type FlowRequest,
  FlowRequestReply,
  sidecarPrincipal,
  TYP_FLOW_REQUEST,
} from '../../api/shared/contract/index.ts';
import { describeError } from '../errors.ts';

/** Asks the API to run a `request` step; always resolves, an `error` reply when anything failed. */
export type FlowRequester = (request: FlowRequest, timeoutMs: number) => Promise<FlowRequestReply>;

export interface FlowRequesterOptions {
  key: SigningKey;
  sidecarId: string;
  apiUrl: string;
  apiIssuer: string;
}

/**
 * A `request` step over the signed channel: the FlowRequest signed with the sidecar's key (typ
 * TYP_FLOW_REQUEST, bound to method, path and body like the event batches), posted to the API,
 * which calls the client's URL and answers with the steps to run (FlowRequestReply). Not retried:
 * the callee is waiting, and the step's timeout bounds the whole exchange.
 */
export function flowRequester(o: FlowRequesterOptions): FlowRequester {
  const url = `${o.apiUrl}${API_FLOW_REQUESTS_PATH}`;
  return async (request, timeoutMs) => {
    const body = JSON.stringify(request);
    try {
      const token = await signChannelMessage({
        key: o.key,
        issuer: sidecarPrincipal(o.sidecarId),
        audience: o.apiIssuer,
        typ: TYP_FLOW_REQUEST,
        method: 'POST',
        path: API_FLOW_REQUESTS_PATH,
        body,
      });
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      if (!response.ok) {
        return { outcome: 'error', detail: `the API answered ${response.status}`.slice(0, 500) };
      }
      const reply = FlowRequestReply.safeParse(JSON.parse(text));
      if (!reply.success) return { outcome: 'error', detail: 'the API answered with no valid steps' };
      return reply.data;
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      return {
        outcome: 'error',
        detail: (timedOut ? `no answer within ${timeoutMs} ms` : describeError(error)).slice(0, 500),
      };
    }
  };
}
