import { createRoute } from '@hono/zod-openapi';
import { getDnc } from '../../../db/queries/dnc.ts';
import { DncEntrySchema } from '../../campaigns/bodies.ts';
import { presentDnc } from '../../campaigns/present.ts';
import { ApiError } from '../../errors.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { DncNumberParamSchema, dncNumberOf } from './schema.ts';

export const checkDncRoute = createRoute({
  method: 'get',
  path: '/api/v2/dnc/numbers/{phone_number}',
  tags: ['Do not call'],
  summary: 'Check a number',
  description: 'The entry when the number (in any form it may be written) is listed; 404 when it is not.',
  ...guarded('campaigns:read'),
  request: { params: DncNumberParamSchema },
  responses: {
    200: { description: 'It is listed', content: { 'application/json': { schema: DncEntrySchema } } },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerCheckDnc = (app: App) =>
  app.openapi(checkDncRoute, async (c) => {
    const number = dncNumberOf(c, c.req.valid('param').phone_number);
    const entry = await getDnc(c.get('services').db, number);
    if (!entry) throw new ApiError('dnc_not_found', 'The number is not on the do-not-call list');
    return c.json(presentDnc(entry), 200);
  });
