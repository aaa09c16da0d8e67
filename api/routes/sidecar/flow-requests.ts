import { createRoute } from '@hono/zod-openapi';
import { getCall } from '../../../db/queries/calls.ts';
import { runFlowRequest } from '../../calls/flow-request.ts';
import { ApiError } from '../../errors.ts';
import {
  API_FLOW_REQUESTS_PATH,
  FlowRequest,
  FlowRequestReply,
  TYP_FLOW_REQUEST,
} from '../../shared/contract/index.ts';
import { type App, errorResponses } from '../openapi.ts';
import { jsonOnly, signedBody, signedBySidecar } from './signed.ts';

export const flowRequestsRoute = createRoute({
  method: 'post',
  path: API_FLOW_REQUESTS_PATH,
  tags: ['Sidecar'],
  summary: 'Run a flow’s request step for a sidecar',
  description:
    'Internal: a sidecar running a call’s flow asks the API to run a request step. The message must be signed ' +
    'by the sidecar’s Ed25519 key (typ outdial-flow-request+jwt, single-use) and name a call handed to that ' +
    'sidecar. The API posts the answers to the step’s URL (from the call’s flow; for steps a request returned, ' +
    'the URL the sidecar sends), signed and address-checked like webhooks, and answers with the steps the ' +
    'client returned, or an error in words (the sidecar then takes the step’s on_error).',
  security: [{ sidecarSignature: [] }],
  request: { body: { required: true, content: { 'application/json': { schema: FlowRequest } } } },
  responses: {
    200: {
      description: 'The steps to run next, or why there are none',
      content: { 'application/json': { schema: FlowRequestReply } },
    },
    ...errorResponses(400, 401, 404, 413, 415, 422, 500, 503),
  },
});

const signed = signedBySidecar(TYP_FLOW_REQUEST);

// The body is verified as raw bytes before it is parsed, so the route is documented through the
// registry but handled without zod-openapi's body validator.
export const registerFlowRequests = (app: App) => {
  app.openAPIRegistry.registerPath(flowRequestsRoute);
  app.post(API_FLOW_REQUESTS_PATH, jsonOnly, signed, async (c) => {
    const services = c.get('services');
    const { body: request, sidecarId } = signedBody(c, FlowRequest);
    const call = await getCall(services.db, request.call_id);
    // Another sidecar's call is as unknown as a call that does not exist.
    if (!call || call.sidecarId !== sidecarId) throw new ApiError('call_not_found', 'Call not found');
    const reply = await runFlowRequest(services, call, request);
    if (reply.outcome === 'error')
      c.get('logger').info('flow request failed', { call_id: call.id, detail: reply.detail });
    return c.json(reply, 200);
  });
};
