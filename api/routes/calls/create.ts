import { createRoute } from '@hono/zod-openapi';
import { OriginateResponseSchema } from '../../calls/bodies.ts';
import { requireAuth } from '../../middleware/auth.ts';
import { type App, bearerSecurity, errorResponses, RateLimitHeaders } from '../openapi.ts';
import { handleOriginate } from './originate-handler.ts';
import { CreateCallBodySchema, IdempotencyHeaderSchema } from './schema.ts';

export const createCallRoute = createRoute({
  method: 'post',
  path: '/api/v2/calls',
  tags: ['Calls'],
  summary: 'Place a call',
  description:
    'Validates the request, stores the call as `pending` and hands it to the sidecar beside the PBX. ' +
    'Answers 200 with `status` `dialing` (or `pending` when the call waits for a dialling slot), or ' +
    '`failed` with `success: false` when the PBX refused it. When no PBX can take the call: 503 with Retry-After.',
  security: bearerSecurity,
  middleware: [requireAuth('admin', 'operator')] as const,
  request: {
    headers: IdempotencyHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: CreateCallBodySchema } } },
  },
  responses: {
    200: {
      description: 'The call was accepted (or refused by the PBX: see `success`)',
      headers: {
        ...RateLimitHeaders,
        'Idempotent-Replayed': {
          description: 'true when this is a stored response',
          schema: { type: 'string' },
        },
      },
      content: { 'application/json': { schema: OriginateResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429, 500, 503),
  },
});

export const registerCreateCall = (app: App) =>
  app.openapi(createCallRoute, async (c) => {
    const body = c.req.valid('json');
    const key = c.req.valid('header')['idempotency-key'];
    const result = await handleOriginate(
      c,
      {
        phoneNumber: body.phone_number,
        context: body.context,
        extension: body.extension,
        priority: body.priority,
        timeoutMs: body.timeout,
        callerId: body.caller_id,
        variables: body.variables,
        statusCallback: body.status_callback,
        statusCallbackEvents: body.status_callback_events,
      },
      key,
    );
    if (result.replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(result.body, 200);
  });
