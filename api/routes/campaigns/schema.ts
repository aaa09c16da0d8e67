import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { countersOfCampaigns } from '../../../db/queries/campaign-counters.ts';
import { type CampaignRow, getCampaignForOwner } from '../../../db/queries/campaigns.ts';
import { writeAudit } from '../../../db/queries/misc.ts';
import { readableOwner, writableOwner } from '../../auth/owner.ts';
import {
  CallingWindowsSchema,
  CampaignCallbackEventsSchema,
  CampaignStateSchema,
  RETRY_EXAMPLE,
  RetryPolicySchema,
  WINDOWS_EXAMPLE,
} from '../../campaigns/bodies.ts';
import { presentCampaign } from '../../campaigns/present.ts';
import { isTimeZone } from '../../campaigns/validate.ts';
import { ApiError } from '../../errors.ts';
import type { AppEnv } from '../../services.ts';
import type { CampaignState } from '../../shared/contract/index.ts';
import {
  CallerIdSchema,
  ContextSchema,
  ExtensionSchema,
  PrioritySchema,
  StatusCallbackSchema,
  TimeoutSchema,
  VariablesSchema,
} from '../calls/schema.ts';
import { isStorableTime, PageLimitSchema, pageCursorSchema, strictBody } from '../openapi.ts';

/** Request schemas of /api/v2/campaigns, and what its routes share: finding a campaign, auditing. */

export const CampaignIdParamSchema = z.object({
  campaign_id: z.uuid('must be a UUID').openapi({
    param: { name: 'campaign_id', in: 'path' },
    description: 'The campaign id',
    example: '3c1a9e4f-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
  }),
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const NO_CONTROL = /^[^\x00-\x1f\x7f-\x9f]*$/;

const time = (description: string) =>
  z.iso
    .datetime({
      offset: true,
      error: 'must be a date and time such as 2026-11-23T09:00:00Z (ISO 8601)',
      abort: true,
    })
    .refine(isStorableTime, 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z')
    .openapi({ description, example: '2026-11-23T09:00:00-05:00' });

const whole = (min: number, max: number, description: string, example: number) =>
  z.number().int('must be a whole number').min(min).max(max).openapi({ description, example });

/** The fields of a campaign's settings, each optional (a change gives some of them). */
const settingsFields = {
  name: z.string().min(1).max(100).regex(NO_CONTROL, 'must not contain control characters').openapi({
    description: 'A name for people (1 to 100 characters)',
    example: 'Appointment reminders, week 48',
  }),
  flow_id: z.uuid('must be a UUID').openapi({
    description: 'A saved flow (see Flows) answered calls run; not with context, extension or priority',
    example: '0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10',
  }),
  flow_version: whole(1, 2_147_483_647, 'Which version of flow_id (default: its latest now, then kept)', 2),
  context: ContextSchema,
  extension: ExtensionSchema,
  priority: PrioritySchema,
  caller_id: CallerIdSchema,
  timezone: z
    .string()
    .max(64)
    .refine(isTimeZone, 'must be an IANA time zone such as America/New_York')
    .openapi({
      description: 'IANA time zone of contacts that have none of their own; windows are read in it',
      example: 'America/New_York',
    }),
  windows: CallingWindowsSchema,
  starts_at: time('Not before this (default: as soon as it is started)'),
  ends_at: time('Not after this: no attempt is leased later (default: none); after starts_at'),
  retry: RetryPolicySchema,
  max_attempts_per_day: whole(1, 10, 'Attempts per contact per local day (1 to 10, default 1)', 2),
  cps: whole(1, 10_000, 'Calls started per second, at most (1 to CAMPAIGN_MAX_CPS, default 1)', 5),
  max_concurrent: whole(
    1,
    100_000,
    'Calls up at once, at most (1 to CAMPAIGN_MAX_CONCURRENT, default 10)',
    50,
  ),
  ring_timeout_ms: TimeoutSchema,
  variables: VariablesSchema,
  status_callback: StatusCallbackSchema.openapi({
    description:
      'URL that receives the campaign’s signed webhooks (campaign.state, campaign.progress): held to what a ' +
      'call’s status_callback is (https, an allowed port, a host of the public internet)',
    example: 'https://example.com/hooks/campaigns',
  }),
  status_callback_events: CampaignCallbackEventsSchema,
};

const f = settingsFields;

export const CreateCampaignBodySchema = strictBody({
  name: f.name,
  flow_id: f.flow_id.optional(),
  flow_version: f.flow_version.optional(),
  context: f.context.optional(),
  extension: f.extension.optional(),
  priority: f.priority.optional(),
  caller_id: f.caller_id.optional(),
  timezone: f.timezone,
  windows: f.windows,
  starts_at: f.starts_at.optional(),
  ends_at: f.ends_at.optional(),
  retry: f.retry.optional(),
  max_attempts_per_day: f.max_attempts_per_day.optional(),
  cps: f.cps.optional(),
  max_concurrent: f.max_concurrent.optional(),
  ring_timeout_ms: f.ring_timeout_ms.optional(),
  variables: f.variables.optional(),
  status_callback: f.status_callback.optional(),
  status_callback_events: f.status_callback_events.optional(),
}).openapi('CreateCampaignRequest', {
  example: {
    name: 'Appointment reminders, week 48',
    flow_id: '0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10',
    caller_id: 'Clinic <5550001111>',
    timezone: 'America/New_York',
    windows: WINDOWS_EXAMPLE,
    retry: RETRY_EXAMPLE,
    max_attempts_per_day: 2,
    cps: 5,
    max_concurrent: 50,
  },
});

/** A change: any settings; null clears caller_id, starts_at, ends_at, status_callback and its events. */
export const UpdateCampaignBodySchema = strictBody({
  name: f.name.optional(),
  flow_id: f.flow_id.optional(),
  flow_version: f.flow_version.optional(),
  context: f.context.optional(),
  extension: f.extension.optional(),
  priority: f.priority.optional(),
  caller_id: f.caller_id.nullable().optional(),
  timezone: f.timezone.optional(),
  windows: f.windows.optional(),
  starts_at: f.starts_at.nullable().optional(),
  ends_at: f.ends_at.nullable().optional(),
  retry: f.retry.optional(),
  max_attempts_per_day: f.max_attempts_per_day.optional(),
  cps: f.cps.optional(),
  max_concurrent: f.max_concurrent.optional(),
  ring_timeout_ms: f.ring_timeout_ms.optional(),
  variables: f.variables.optional(),
  status_callback: f.status_callback.nullable().optional(),
  status_callback_events: f.status_callback_events.nullable().optional(),
}).openapi('UpdateCampaignRequest', { example: { cps: 10, ends_at: '2026-11-30T18:00:00-05:00' } });

export const ListCampaignsQuerySchema = z.object({
  state: CampaignStateSchema.optional().openapi({
    param: { name: 'state', in: 'query' },
    description: 'Only campaigns in this state',
  }),
  limit: PageLimitSchema,
  cursor: pageCursorSchema('eyJ0IjoiMjAyNi0xMS0yM1QxNToyMzo1MS4yMTNaIiwiaSI6IjNjMWE5ZTRmIn0'),
});

/**
 * The campaign if the caller may read it (`'read'`) or change it (`'write'`). Another user's campaign
 * answers the same 404 as one that does not exist, so ids do not tell.
 */
export async function findCampaign(
  c: Context<AppEnv>,
  campaignId: string,
  purpose: 'read' | 'write',
): Promise<CampaignRow> {
  const user = c.get('user');
  const owner = purpose === 'read' ? readableOwner(user) : writableOwner(user);
  const campaign = await getCampaignForOwner(c.get('services').db, campaignId, owner);
  if (!campaign) throw new ApiError('campaign_not_found', 'Campaign not found');
  return campaign;
}

/** Campaigns as answered: their settings and their counters read now. */
export async function campaignBodies(c: Context<AppEnv>, rows: CampaignRow[]) {
  const counters = await countersOfCampaigns(
    c.get('services').db,
    rows.map((r) => r.id),
  );
  return rows.map((row) => presentCampaign(row, counters.get(row.id)!));
}

export async function campaignBody(c: Context<AppEnv>, row: CampaignRow) {
  return (await campaignBodies(c, [row]))[0]!;
}

export async function auditCampaign(
  c: Context<AppEnv>,
  action: string,
  campaignId: string,
  details: Record<string, unknown>,
) {
  const services = c.get('services');
  await writeAudit(services.db, {
    actorId: c.get('user').id,
    actorKeyId: c.get('user').keyId,
    action,
    targetType: 'campaign',
    targetId: campaignId,
    clientAddress: services.clientAddress(c),
    requestId: c.get('requestId'),
    details,
  });
}

/** The 409 for what a campaign's state does not allow (404 if it is gone meanwhile). */
export function stateConflict(state: CampaignState | null, what: string): ApiError {
  if (state === null) return new ApiError('campaign_not_found', 'Campaign not found');
  return new ApiError('campaign_state', `The campaign is ${state}: ${what}`, {
    errors: [{ path: 'state', message: `is ${state}`, code: state }],
  });
}
