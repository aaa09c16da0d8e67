import { createRoute } from '@hono/zod-openapi';
import { addDnc } from '../../../db/queries/dnc.ts';
import { DncEntrySchema } from '../../campaigns/bodies.ts';
import { presentDnc } from '../../campaigns/present.ts';
import { ApiError } from '../../errors.ts';
import { normalizePhone } from '../../lib/phone.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { AddDncBodySchema, auditDnc } from './schema.ts';

export const addDncRoute = createRoute({
  method: 'post',
  path: '/api/v2/dnc',
  tags: ['Do not call'],
  summary: 'Put a number on the do-not-call list',
  description:
    'Stores the number in E.164 (a national number is read in DEFAULT_PHONE_REGION). No campaign calls it ' +
    'from then on: a due contact with this number ends `dnc`. A number already listed keeps its entry as ' +
    'it was and answers 200; a new one 201.',
  ...guarded('campaigns:write', 'admin', 'operator'),
  request: { body: { required: true, content: { 'application/json': { schema: AddDncBodySchema } } } },
  responses: {
    200: {
      description: 'It was listed already',
      content: { 'application/json': { schema: DncEntrySchema } },
    },
    201: { description: 'It is now listed', content: { 'application/json': { schema: DncEntrySchema } } },
    ...errorResponses(400, 401, 403, 413, 415, 422, 500, 503),
  },
});

export const registerAddDnc = (app: App) =>
  app.openapi(addDncRoute, async (c) => {
    const body = c.req.valid('json');
    const services = c.get('services');
    const phone = normalizePhone(body.phone_number, services.config.DEFAULT_PHONE_REGION);
    if (!phone.ok) {
      throw new ApiError('validation_error', `body.phone_number: ${phone.reason}`, {
        errors: [{ path: 'body.phone_number', message: phone.reason, code: 'invalid_phone_number' }],
      });
    }
    const { entry, created } = await addDnc(services.db, {
      phoneNumber: phone.e164,
      note: body.note ?? null,
      addedBy: c.get('user').id,
      source: 'api',
    });
    if (created) await auditDnc(c, 'dnc.add', entry.phoneNumber, {});
    return created ? c.json(presentDnc(entry), 201) : c.json(presentDnc(entry), 200);
  });
