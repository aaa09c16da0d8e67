import { createRoute, z } from '@hono/zod-openapi';
import { OriginateResponseSchema } from '../../calls/bodies.ts';
import { handleOriginate } from '../calls/originate-handler.ts';
import {
  IdempotencyHeaderSchema,
  INTERACTION_FIELDS,
  InteractionBodySchema,
  PhoneNumberSchema,
} from '../calls/schema.ts';
import { type App, errorResponses, guarded, ignoredFields, RateLimitHeaders } from '../openapi.ts';

const interactionRoute = createRoute({
  method: 'post',
  path: '/api/v2/interaction/{number}',
  tags: ['Calls'],
  summary: 'Place a call to {number} (original route)',
  description:
    'The route of the service Outdial replaces; same behaviour as `POST /api/v2/calls` with the number in the path ' +
    'and an optional JSON body. A field that body does not define is ignored, as the replaced service did, and ' +
    'its name logged.',
  ...guarded('calls:write', 'admin', 'operator'),
  request: {
    params: z.object({ number: PhoneNumberSchema.openapi({ param: { name: 'number', in: 'path' } }) }),
    headers: IdempotencyHeaderSchema,
    body: { required: false, content: { 'application/json': { schema: InteractionBodySchema } } },
  },
  responses: {
    200: {
      description: 'The call was accepted (or refused by the PBX: see `success`)',
      headers: RateLimitHeaders,
      content: { 'application/json': { schema: OriginateResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429, 500, 503),
  },
});

export const registerInteraction = (app: App) =>
  app.openapi(interactionRoute, async (c) => {
    const body = c.req.valid('json') ?? {};
    // Clients of the replaced service send fields it never had: taken, ignored, and named in the log.
    const ignored = ignoredFields(INTERACTION_FIELDS, body);
    if (ignored.length > 0)
      c.get('logger').info('ignored fields the route does not define', {
        route: 'POST /api/v2/interaction/{number}',
        fields: ignored,
      });
    const result = await handleOriginate(
      c,
      {
        phoneNumber: c.req.valid('param').number,
        context: body.context,
        extension: body.extension,
        priority: body.priority,
        timeoutMs: body.timeout,
        callerId: body.caller_id,
        variables: body.variables,
      },
      c.req.valid('header')['idempotency-key'],
    );
    if (result.replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(result.body, 200);
  });
