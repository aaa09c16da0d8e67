import { createRoute } from '@hono/zod-openapi';
import { presentCall } from '../../calls/present.ts';
import { requireAuth } from '../../middleware/auth.ts';
import { findVisibleCall } from '../calls/get.ts';
import { CallIdParamSchema, CallSchema } from '../calls/schema.ts';
import { type App, bearerSecurity, errorResponses } from '../openapi.ts';

const responses = {
  200: { description: 'The call', content: { 'application/json': { schema: CallSchema } } },
  ...errorResponses(401, 404, 422, 500),
};

export const statusRoute = createRoute({
  method: 'get',
  path: '/api/v2/status/{call_id}',
  tags: ['Calls'],
  summary: 'Call status (original route)',
  description: 'Same as `GET /api/v2/calls/{call_id}`.',
  security: bearerSecurity,
  middleware: [requireAuth()] as const,
  request: { params: CallIdParamSchema },
  responses,
});

export const interactionStatusRoute = createRoute({
  method: 'get',
  path: '/api/v2/interaction/{call_id}/status',
  tags: ['Calls'],
  summary: 'Call status (original route)',
  description: 'Same as `GET /api/v2/calls/{call_id}`.',
  security: bearerSecurity,
  middleware: [requireAuth()] as const,
  request: { params: CallIdParamSchema },
  responses,
});

export const registerStatus = (app: App) => {
  app.openapi(statusRoute, async (c) =>
    c.json(presentCall(await findVisibleCall(c, c.req.valid('param').call_id)), 200),
  );
  app.openapi(interactionStatusRoute, async (c) =>
    c.json(presentCall(await findVisibleCall(c, c.req.valid('param').call_id)), 200),
  );
};
