import { createRoute, z } from '@hono/zod-openapi';
import { listCallEvents } from '../../../db/queries/calls.ts';
import { CallEventSchema } from '../../calls/bodies.ts';
import { presentEvent } from '../../calls/present.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { findVisibleCall } from './get.ts';
import { CallIdParamSchema } from './schema.ts';

export const callEventsRoute = createRoute({
  method: 'get',
  path: '/api/v2/calls/{call_id}/events',
  tags: ['Calls'],
  summary: 'A call’s event log',
  description:
    'Everything that happened to the call, in order. Visible to the call’s owner, admins and viewers.',
  ...guarded('calls:read'),
  request: { params: CallIdParamSchema },
  responses: {
    200: {
      description: 'The ordered event log',
      content: {
        'application/json': {
          schema: z
            .object({
              call_id: z
                .uuid()
                .openapi({ description: 'The call id', example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b' }),
              events: z.array(CallEventSchema).openapi({ description: 'Events in the order they happened' }),
            })
            .openapi('CallEventLog'),
        },
      },
    },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerCallEvents = (app: App) =>
  app.openapi(callEventsRoute, async (c) => {
    const call = await findVisibleCall(c, c.req.valid('param').call_id);
    const events = await listCallEvents(c.get('services').db, call.id);
    return c.json({ call_id: call.id, events: events.map(presentEvent) }, 200);
  });
