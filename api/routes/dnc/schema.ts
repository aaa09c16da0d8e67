import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { writeAudit } from '../../../db/queries/misc.ts';
import { ApiError } from '../../errors.ts';
import { normalizePhone } from '../../lib/phone.ts';
import type { AppEnv } from '../../services.ts';
import { PageLimitSchema, pageCursorSchema, strictBody } from '../openapi.ts';

/** Request schemas of /api/v2/dnc, and what its routes share: reading a number, auditing a change. */

/** The most numbers one bulk request takes. */
export const DNC_BULK_MAX = 10_000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const NO_CONTROL = /^[^\x00-\x1f\x7f-\x9f]*$/;

const WrittenPhoneSchema = z
  .string()
  .min(1)
  .max(40)
  .openapi({
    description:
      'The number: E.164 (`+15551234000`), or as written in DEFAULT_PHONE_REGION (`(555) 123-4000`); digits, ' +
      'spaces and + ( ) - . only. It is stored in E.164',
    example: '+15551234000',
  });

const NoteSchema = z.string().max(200).regex(NO_CONTROL, 'must not contain control characters').openapi({
  description: 'Why, in words (at most 200 characters)',
  example: 'Asked on the phone, 2026-11-23',
});

export const AddDncBodySchema = strictBody({
  phone_number: WrittenPhoneSchema,
  note: NoteSchema.optional(),
}).openapi('AddDncRequest');

export const BulkDncBodySchema = z
  .array(strictBody({ phone_number: WrittenPhoneSchema, note: NoteSchema.optional() }))
  .min(1)
  .max(DNC_BULK_MAX)
  .openapi('BulkDncRequest', {
    description: `1 to ${DNC_BULK_MAX} numbers, each with an optional note`,
    example: [{ phone_number: '+15551234000', note: 'Asked by letter' }, { phone_number: '(555) 123-4001' }],
  });

export const DncNumberParamSchema = z.object({
  phone_number: z
    .string()
    .min(1)
    .max(40)
    .openapi({
      param: { name: 'phone_number', in: 'path' },
      description:
        'The number, E.164 or as written in DEFAULT_PHONE_REGION (`+` may be sent as is or as `%2B`)',
      example: '+15551234000',
    }),
});

export const ListDncQuerySchema = z.object({
  limit: PageLimitSchema,
  cursor: pageCursorSchema('eyJ0IjoiMjAyNi0xMS0yM1QxNToyMzo1MS4yMTNaIiwiaSI6IisxNTU1MTIzNDAwMCJ9'),
});

/** What a cursor of the list names: an E.164 number. */
export const E164Schema = z.string().regex(/^\+[1-9][0-9]{5,19}$/);

/** The number of a path parameter in E.164, or the 422 naming it. */
export function dncNumberOf(c: Context<AppEnv>, written: string): string {
  const result = normalizePhone(written, c.get('services').config.DEFAULT_PHONE_REGION);
  if (result.ok) return result.e164;
  throw new ApiError('validation_error', `path.phone_number: ${result.reason}`, {
    errors: [{ path: 'path.phone_number', message: result.reason, code: 'invalid_phone_number' }],
  });
}

export async function auditDnc(
  c: Context<AppEnv>,
  action: 'dnc.add' | 'dnc.remove' | 'dnc.bulk',
  target: string | null,
  details: Record<string, unknown>,
) {
  const services = c.get('services');
  await writeAudit(services.db, {
    actorId: c.get('user').id,
    actorKeyId: c.get('user').keyId,
    action,
    targetType: 'dnc',
    targetId: target,
    clientAddress: services.clientAddress(c),
    requestId: c.get('requestId'),
    details,
  });
}
