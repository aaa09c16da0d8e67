import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { validationError } from '../../errors.ts';
import type { AppEnv } from '../../services.ts';
import { ATTEMPT_OUTCOMES, CONTACT_STATES } from '../../shared/contract/index.ts';
import { PageLimitSchema, pageCursorSchema } from '../openapi.ts';
import { CampaignIdParamSchema, findCampaign as findCampaignById } from './schema.ts';

/** Schemas of a campaign's contacts and results, and finding the campaign for the caller. */

export { CampaignIdParamSchema };

/**
 * The campaign the path's `campaign_id` names, if the caller may read it (`read`) or change it
 * (`write`); for routes whose parameters are not checked by the route's validator.
 */
export async function findCampaign(c: Context<AppEnv>, purpose: 'read' | 'write') {
  const params = CampaignIdParamSchema.safeParse(c.req.param());
  if (!params.success) throw validationError(params.error, 'param', c.req.param());
  return findCampaignById(c, params.data.campaign_id, purpose);
}

export const ContactInputSchema = z
  .object({
    phone_number: z.string().openapi({
      description: 'The number as people write it; without a country code it is read in DEFAULT_PHONE_REGION',
      example: '(202) 555-0123',
    }),
    timezone: z.string().nullable().optional().openapi({
      description: 'The contact’s IANA time zone for calling windows (default: the campaign’s)',
      example: 'America/New_York',
    }),
    variables: z
      .record(z.string(), z.string())
      .optional()
      .openapi({
        description: 'Call variables for this contact (the names and sizes a call’s variables take)',
        example: { FIRST_NAME: 'Ada' },
      }),
  })
  .openapi('ContactInput');

export const ImportReportSchema = z
  .object({
    accepted: z.number().int().openapi({ description: 'Rows kept as new contacts', example: 9970 }),
    merged: z.number().int().openapi({
      description:
        'Valid rows whose number the campaign already had (from this import or an earlier one): the contact first imported keeps its data',
      example: 12,
    }),
    rejected: z
      .array(
        z.object({
          row: z.number().int().openapi({
            description:
              'The row: 1 is the first contact (the first element, or the first line after the CSV header)',
            example: 17,
          }),
          reason: z
            .string()
            .openapi({ description: 'Why, in plain words', example: 'phone_number is not a phone number' }),
        }),
      )
      .openapi({ description: 'The first 1000 rejected rows' }),
    rejected_count: z.number().int().openapi({ description: 'All rejected rows', example: 18 }),
  })
  .openapi('ContactImportReport');

export const ContactSchema = z
  .object({
    id: z.number().int().openapi({ description: 'The contact id (in import order)', example: 1 }),
    phone_number: z.string().openapi({ description: 'E.164', example: '+12025550123' }),
    timezone: z
      .string()
      .nullable()
      .openapi({ description: 'IANA time zone, or null for the campaign’s', example: null }),
    variables: z.record(z.string(), z.string()).openapi({ description: 'Call variables', example: {} }),
    state: z.enum(CONTACT_STATES).openapi({ description: 'Where the contact is', example: 'pending' }),
    attempts: z.number().int().openapi({ description: 'Attempts so far', example: 0 }),
    next_attempt_at: z
      .string()
      .nullable()
      .openapi({ description: 'When its next attempt is due', example: null }),
    last_call_id: z
      .string()
      .nullable()
      .openapi({ description: 'The call of its latest attempt', example: null }),
    last_outcome: z
      .string()
      .nullable()
      .openapi({ description: 'Its latest attempt’s outcome', example: null }),
    final_outcome: z.string().nullable().openapi({ description: 'How it ended, once done', example: null }),
    answered_by: z
      .string()
      .nullable()
      .openapi({ description: 'human or machine, when a flow told', example: null }),
    source_row: z.number().int().nullable().openapi({ description: 'Its row in the import', example: 1 }),
    created_at: z
      .string()
      .openapi({ description: 'When it was imported', example: '2026-11-23T15:23:51.213Z' }),
    updated_at: z
      .string()
      .openapi({ description: 'When it last changed', example: '2026-11-23T15:23:51.213Z' }),
  })
  .openapi('CampaignContact');

export const ContactListSchema = z
  .object({
    items: z.array(ContactSchema).openapi({ description: 'Contacts in import order' }),
    next_cursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; null on the last page', example: null }),
  })
  .openapi('CampaignContactList');

export const ListContactsQuerySchema = z.object({
  state: z
    .enum(CONTACT_STATES, { error: `must be one of ${CONTACT_STATES.join(', ')}` })
    .optional()
    .openapi({
      param: { name: 'state', in: 'query' },
      description: 'Only contacts in this state',
      example: 'pending',
    }),
  final_outcome: z
    .enum(ATTEMPT_OUTCOMES, { error: `must be one of ${ATTEMPT_OUTCOMES.join(', ')}` })
    .optional()
    .openapi({
      param: { name: 'final_outcome', in: 'query' },
      description: 'Only contacts that ended so',
      example: 'answered',
    }),
  phone_number: z
    .string()
    .regex(/^\+[0-9]{1,15}$/, 'must be + and 1 to 15 digits, the start of an E.164 number')
    .optional()
    .openapi({
      param: { name: 'phone_number', in: 'query' },
      description: 'Only numbers that start so (E.164: + and digits)',
      example: '+1202',
    }),
  limit: PageLimitSchema,
  cursor: pageCursorSchema('eyJhIjoxMDB9'),
});

export const ResultCallSchema = z.object({
  attempt: z.number().int().openapi({ description: 'The attempt’s number', example: 1 }),
  call_id: z
    .string()
    .openapi({ description: 'The attempt’s call', example: '0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10' }),
  outcome: z
    .string()
    .nullable()
    .openapi({ description: 'The attempt’s outcome (null while it runs)', example: 'busy' }),
  started_at: z
    .string()
    .openapi({ description: 'When it was dialled (or leased)', example: '2026-11-23T15:23:51.213Z' }),
  ended_at: z
    .string()
    .nullable()
    .openapi({ description: 'When it ended', example: '2026-11-23T15:24:09.004Z' }),
});

export const ResultRecordSchema = z
  .object({
    phone_number: z.string().openapi({ description: 'E.164', example: '+12025550123' }),
    state: z.string().openapi({ description: 'The contact’s state', example: 'done' }),
    attempts: z.number().int().openapi({ description: 'Attempts made', example: 2 }),
    final_outcome: z.string().nullable().openapi({ description: 'How it ended', example: 'answered' }),
    answered_by: z.string().nullable().openapi({ description: 'human or machine', example: 'human' }),
    calls: z.array(ResultCallSchema).openapi({ description: 'Each attempt, in order' }),
    answers: z.record(z.string(), z.unknown()).openapi({
      description: 'The answers of the last answered call’s flow, by name',
      example: { choice: '1' },
    }),
  })
  .openapi('CampaignResult');
