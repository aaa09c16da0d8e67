import { createRoute, z } from '@hono/zod-openapi';
import { listDeliveriesForCall } from '../../../db/queries/webhooks.ts';
import { StatusSchema } from '../../calls/bodies.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { findVisibleCall } from './get.ts';
import { CallIdParamSchema } from './schema.ts';

const iso = (description: string) =>
  z.iso.datetime({ offset: true }).nullable().openapi({ description, example: '2026-11-23T15:23:55.101Z' });

const AttemptSchema = z
  .object({
    attempt: z.number().int().openapi({ description: '1 for the first attempt', example: 1 }),
    started_at: z.iso
      .datetime({ offset: true })
      .openapi({ description: 'When it was sent', example: '2026-11-23T15:23:55.101Z' }),
    duration_ms: z.number().int().openapi({ description: 'How long the receiver took', example: 42 }),
    status_code: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'The receiver’s HTTP status (null if none came)', example: 500 }),
    error: z
      .string()
      .nullable()
      .openapi({ description: 'Why it failed, if it did', example: 'answered 500' }),
  })
  .openapi('WebhookAttempt');

const DeliverySchema = z
  .object({
    id: z.string().openapi({ description: 'Delivery id (the Outdial-Delivery-Id header)', example: '17' }),
    event_id: z
      .string()
      .openapi({ description: 'The call event it reports (the Outdial-Event-Id header)', example: '1042' }),
    sequence: z.number().int().openapi({ description: 'The event’s place in the call’s log', example: 3 }),
    status: StatusSchema,
    url: z
      .string()
      .openapi({ description: 'Where it is sent', example: 'https://example.com/hooks/outdial' }),
    state: z
      .enum(['pending', 'delivered', 'failed'])
      .openapi({ description: 'pending (will retry), delivered, or failed (gave up)', example: 'delivered' }),
    attempts: z.array(AttemptSchema).openapi({ description: 'Every attempt, oldest first' }),
    next_attempt_at: iso('When the next attempt is due (pending only)'),
    delivered_at: iso('When a 2xx came back'),
    created_at: z.iso
      .datetime({ offset: true })
      .openapi({ description: 'When the event was recorded', example: '2026-11-23T15:23:55.100Z' }),
  })
  .openapi('WebhookDelivery');

export const callWebhooksRoute = createRoute({
  method: 'get',
  path: '/api/v2/calls/{call_id}/webhooks',
  tags: ['Webhooks'],
  summary: 'A call’s webhook deliveries',
  description:
    'Every status webhook of the call with every attempt. Visible to the call’s owner, admins and viewers.',
  ...guarded('calls:read'),
  request: { params: CallIdParamSchema },
  responses: {
    200: {
      description: 'Deliveries, oldest first',
      content: {
        'application/json': {
          schema: z
            .object({
              call_id: z
                .uuid()
                .openapi({ description: 'The call id', example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b' }),
              status_callback: z.string().nullable().openapi({
                description: 'The call’s webhook URL',
                example: 'https://example.com/hooks/outdial',
              }),
              deliveries: z.array(DeliverySchema).openapi({ description: 'Deliveries, oldest first' }),
            })
            .openapi('CallWebhooks'),
        },
      },
    },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerCallWebhooks = (app: App) =>
  app.openapi(callWebhooksRoute, async (c) => {
    const call = await findVisibleCall(c, c.req.valid('param').call_id);
    const rows = await listDeliveriesForCall(c.get('services').db, call.id);
    return c.json(
      {
        call_id: call.id,
        status_callback: call.statusCallback,
        deliveries: rows.map(({ d, seq, status, attempts }) => ({
          id: String(d.id),
          event_id: String(d.eventId),
          sequence: seq,
          status,
          url: d.url,
          state: d.state,
          attempts: attempts.map((a) => ({
            attempt: a.attempt,
            started_at: a.startedAt.toISOString(),
            duration_ms: a.durationMs,
            status_code: a.statusCode,
            error: a.error,
          })),
          next_attempt_at: d.state === 'pending' ? d.nextAttemptAt.toISOString() : null,
          delivered_at: d.deliveredAt ? d.deliveredAt.toISOString() : null,
          created_at: d.createdAt.toISOString(),
        })),
      },
      200,
    );
  });
