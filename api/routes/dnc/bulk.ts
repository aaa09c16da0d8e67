import { createRoute } from '@hono/zod-openapi';
import { addDncMany } from '../../../db/queries/dnc.ts';
import { DncBulkResultSchema } from '../../campaigns/bodies.ts';
import { ApiError } from '../../errors.ts';
import { normalizePhone } from '../../lib/phone.ts';
import type { FieldError } from '../../shared/contract/index.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { auditDnc, BulkDncBodySchema, DNC_BULK_MAX } from './schema.ts';

export const bulkDncRoute = createRoute({
  method: 'post',
  path: '/api/v2/dnc/bulk',
  tags: ['Do not call'],
  summary: 'Put many numbers on the do-not-call list',
  description:
    `A JSON list of 1 to ${DNC_BULK_MAX} \`{phone_number, note?}\` (a body of up to 2 MiB), all or none: when a ` +
    'row is refused, nothing is added and the 422 names each refused row by its index ' +
    '(`errors[].pointer` `/3/phone_number`, the first 20; `detail` counts them all) with the reason. ' +
    'Numbers already listed, or given twice, keep their first entry.',
  ...guarded('campaigns:write', 'admin', 'operator'),
  request: { body: { required: true, content: { 'application/json': { schema: BulkDncBodySchema } } } },
  responses: {
    200: {
      description: 'Every row was taken',
      content: { 'application/json': { schema: DncBulkResultSchema } },
    },
    ...errorResponses(400, 401, 403, 413, 415, 422, 500, 503),
  },
});

export const registerBulkDnc = (app: App) =>
  app.openapi(bulkDncRoute, async (c) => {
    const rows = c.req.valid('json');
    const services = c.get('services');
    const region = services.config.DEFAULT_PHONE_REGION;
    const refused: FieldError[] = [];
    const entries = new Map<string, { phoneNumber: string; note: string | null }>();
    rows.forEach((row, i) => {
      const phone = normalizePhone(row.phone_number, region);
      if (!phone.ok) {
        refused.push({ path: `body.${i}.phone_number`, message: phone.reason, code: 'invalid_phone_number' });
        return;
      }
      if (!entries.has(phone.e164))
        entries.set(phone.e164, { phoneNumber: phone.e164, note: row.note ?? null });
    });
    if (refused.length > 0) {
      const shown = refused.slice(0, 3).map((e) => `row ${e.path.split('.')[1]}: ${e.message}`);
      throw new ApiError(
        'validation_error',
        `${refused.length} of ${rows.length} rows refused, so none was added (${shown.join('; ')}${refused.length > 3 ? '; …' : ''})`,
        { errors: refused },
      );
    }
    const added = await addDncMany(services.db, [...entries.values()], c.get('user').id, 'api');
    await auditDnc(c, 'dnc.bulk', null, { received: rows.length, added });
    return c.json({ received: rows.length, added, already_listed: rows.length - added }, 200);
  });
