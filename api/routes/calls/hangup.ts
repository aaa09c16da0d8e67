import { createRoute } from '@hono/zod-openapi';
import { CallSchema } from '../../calls/bodies.ts';
import { hangupCall } from '../../calls/originate.ts';
import { presentCall } from '../../calls/present.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { findVisibleCall } from './get.ts';
import { CallIdParamSchema } from './schema.ts';

export const hangupCallRoute = createRoute({
  method: 'post',
  path: '/api/v2/calls/{call_id}/hangup',
  tags: ['Calls'],
  summary: 'Hang up or cancel a call',
  description:
    'Asks the PBX to end the call. A call that was not answered yet ends `canceled`; an answered call ends ' +
    '`completed` with reason `hangup_requested`. The final status arrives through the call, its events and webhooks.',
  ...guarded('calls:write', 'admin', 'operator'),
  request: { params: CallIdParamSchema },
  responses: {
    202: {
      description: 'The hang-up was requested; the call as it is now',
      content: { 'application/json': { schema: CallSchema } },
    },
    ...errorResponses(401, 403, 404, 409, 422, 500, 503),
  },
});

export const registerHangupCall = (app: App) =>
  app.openapi(hangupCallRoute, async (c) => {
    const call = await findVisibleCall(c, c.req.valid('param').call_id);
    const services = c.get('services');
    const updated = await hangupCall(services, call, {
      actorId: c.get('user').id,
      actorKeyId: c.get('user').keyId,
      requestId: c.get('requestId'),
      clientAddress: services.clientAddress(c),
      logger: c.get('logger'),
    });
    return c.json(presentCall(updated), 202);
  });
