import { createRoute } from '@hono/zod-openapi';
import { removeDnc } from '../../../db/queries/dnc.ts';
import { DncEntrySchema } from '../../campaigns/bodies.ts';
import { presentDnc } from '../../campaigns/present.ts';
import { ApiError } from '../../errors.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { auditDnc, DncNumberParamSchema, dncNumberOf } from './schema.ts';

export const removeDncRoute = createRoute({
  method: 'delete',
  path: '/api/v2/dnc/numbers/{phone_number}',
  tags: ['Do not call'],
  summary: 'Take a number off the do-not-call list',
  description:
    'Admins only: someone asked never to be called again, so no operator may undo it. The removal is in the ' +
    'audit log with the entry it removed. 404 when the number is not listed.',
  ...guarded('campaigns:write', 'admin'),
  request: { params: DncNumberParamSchema },
  responses: {
    200: {
      description: 'It is no longer listed; the entry it had',
      content: { 'application/json': { schema: DncEntrySchema } },
    },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerRemoveDnc = (app: App) =>
  app.openapi(removeDncRoute, async (c) => {
    const number = dncNumberOf(c, c.req.valid('param').phone_number);
    const removed = await removeDnc(c.get('services').db, number);
    if (!removed) throw new ApiError('dnc_not_found', 'The number is not on the do-not-call list');
    await auditDnc(c, 'dnc.remove', number, {
      source: removed.source,
      note: removed.note,
      added_by: removed.addedBy,
      added_at: removed.addedAt.toISOString(),
    });
    return c.json(presentDnc(removed), 200);
  });
