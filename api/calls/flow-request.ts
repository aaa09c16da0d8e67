import { z } from 'zod';
import type { CallRow } from '../../db/queries/calls.ts';
import { ApiError } from '../errors.ts';
import { flowFieldErrors } from '../flows/check.ts';
import type { Services } from '../services.ts';
import { Flow, type FlowRequest, type FlowRequestReply } from '../shared/contract/index.ts';
import { SIGNATURE_HEADER, signWebhook } from '../webhooks/signature.ts';
import { isWebhookRefused } from '../webhooks/transport.ts';

/** The most of a client's answer read: the steps it returns fit well within this. */
export const FLOW_REPLY_MAX_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;

const ClientReply = z.object({ steps: Flow });

/** Where a request step posts and for how long it waits: from the call's flow, or the runner's word. */
function target(call: CallRow, req: FlowRequest): { url: string; timeoutMs: number } {
  const steps = Array.isArray(call.flow) ? (call.flow as Array<Record<string, unknown>>) : [];
  const refuse = (path: string, message: string) =>
    new ApiError('validation_error', `${path}: ${message}`, { errors: [{ path, message, code: 'invalid' }] });
  if (steps.length === 0) throw refuse('body.call_id', 'the call has no flow');
  if (req.segment === 0) {
    const step = steps[req.step];
    if (step?.verb !== 'request' || typeof step.url !== 'string')
      throw refuse('body.step', 'is not a request step of the call’s flow');
    const timeout = typeof step.timeout_ms === 'number' ? step.timeout_ms : DEFAULT_TIMEOUT_MS;
    return { url: step.url, timeoutMs: timeout };
  }
  // Steps a request returned are not stored: the call's flow must at least have made requests.
  if (!steps.some((s) => s?.verb === 'request'))
    throw refuse('body.segment', 'the call’s flow has no request step');
  if (!req.url) throw refuse('body.url', 'is required for a step of returned steps (segment > 0)');
  return { url: req.url, timeoutMs: req.timeout_ms ?? DEFAULT_TIMEOUT_MS };
}

/**
 * Runs a flow's request step for the sidecar: posts the answers so far to the client's URL, signed
 * and address-checked as webhooks are, within the step's timeout, and returns the steps the client
 * answered with, checked as a call's flow is. Whatever the client does (refuses, redirects, is slow,
 * answers too much, not JSON, or no valid steps), the answer is an `error` with why, in words.
 */
export async function runFlowRequest(
  services: Services,
  call: CallRow,
  req: FlowRequest,
): Promise<FlowRequestReply> {
  const { url, timeoutMs } = target(call, req);
  const payload = JSON.stringify({
    type: 'flow.request',
    call_id: call.id,
    run: req.run,
    segment: req.segment,
    step: req.step,
    step_id: req.step_id,
    answers: req.answers,
    answered_by: req.answered_by,
    requested_at: new Date().toISOString(),
  });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('timeout')), timeoutMs);
  const expired = new Promise<'timeout'>((resolve) =>
    controller.signal.addEventListener('abort', () => resolve('timeout'), { once: true }),
  );
  const error = (detail: string): FlowRequestReply => ({ outcome: 'error', detail });
  try {
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'User-Agent': 'Outdial-Flows/1',
      [SIGNATURE_HEADER]: await signWebhook(services.keys.signing, payload),
      'Outdial-Call-Id': call.id,
    };
    const reply = await Promise.race([
      services.webhooks.exchange(url, payload, headers, controller.signal, FLOW_REPLY_MAX_BYTES),
      expired,
    ]);
    if (reply === 'timeout') return error(`the request got no answer within ${timeoutMs} ms`);
    if (reply.status >= 300 && reply.status < 400)
      return error(`the request was redirected (${reply.status}); redirects are not followed`);
    if (reply.status < 200 || reply.status >= 300) return error(`the request was answered ${reply.status}`);
    if (reply.body === null) return error(`the answer is larger than ${FLOW_REPLY_MAX_BYTES} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(reply.body);
    } catch {
      return error('the answer is not JSON');
    }
    const parsed = ClientReply.safeParse(json);
    if (!parsed.success) {
      const where = parsed.error.issues[0]?.path.join('.') || 'the answer';
      return error(`the answer holds no valid steps (see ${where}); it must be {"steps": [...]}`);
    }
    // Checked across steps as a call's flow is: a jump to a missing id or a loop that never waits
    // would otherwise reach the sidecar.
    const problems = flowFieldErrors(services.config, parsed.data.steps, '/steps');
    if (problems.length > 0) {
      const first = problems[0]!;
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
      return error(`the steps returned do not run: ${first.pointer}: ${first.message}${more}`);
    }
    return { outcome: 'steps', steps: parsed.data.steps };
  } catch (e) {
    if (controller.signal.aborted) return error(`the request got no answer within ${timeoutMs} ms`);
    if (isWebhookRefused(e)) return error(`the request's URL is refused: ${(e as Error).message}`);
    return error('the request failed: the client could not be reached');
  } finally {
    clearTimeout(timer);
  }
}
