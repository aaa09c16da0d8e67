import { createRoute } from '@hono/zod-openapi';
import { LegacyCallSchema } from '../../calls/bodies.ts';
import { presentLegacyCall } from '../../calls/present.ts';
import { findVisibleCall } from '../calls/get.ts';
import { CallIdParamSchema } from '../calls/schema.ts';
import { type App, errorResponses, guardedReadingCall } from '../openapi.ts';

/** One of the replaced service's two status routes; both answer as `GET /api/v2/calls/{call_id}`. */
const legacyStatusRoute = <P extends string>(path: P) =>
  createRoute({
    method: 'get',
    path,
    tags: ['Calls'],
    summary: 'Call status (original route)',
    description:
      'Same as `GET /api/v2/calls/{call_id}`, without what a flow gave (answers, answered_by, flow): the replaced service’s contract.',
    ...guardedReadingCall('calls:read', 'call_id'),
    request: { params: CallIdParamSchema },
    responses: {
      200: { description: 'The call', content: { 'application/json': { schema: LegacyCallSchema } } },
      ...errorResponses(401, 403, 404, 422, 500, 503),
    },
  });

const statusRoute = legacyStatusRoute('/api/v2/status/{call_id}');
const interactionStatusRoute = legacyStatusRoute('/api/v2/interaction/{call_id}/status');

export const registerStatus = (app: App) => {
  for (const route of [statusRoute, interactionStatusRoute]) {
    app.openapi(route, async (c) =>
      c.json(presentLegacyCall(await findVisibleCall(c, c.req.valid('param').call_id)), 200),
    );
  }
};
