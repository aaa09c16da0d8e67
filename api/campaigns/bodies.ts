import { z } from '@hono/zod-openapi';
import {
  CAMPAIGN_CALLBACK_EVENTS,
  CAMPAIGN_COUNTERS,
  CAMPAIGN_STATES,
  CAMPAIGN_WEBHOOK_KINDS,
  CallingWindow,
  RETRY_OUTCOMES,
  RetryRule,
  WEEKDAYS,
} from '../shared/contract/index.ts';

/**
 * The bodies the API takes and answers about campaigns and the do-not-call list: calling windows and
 * retry policies (the contract's schemas, described for the document), a campaign with its counters,
 * a do-not-call entry. Routes declare them; present.ts builds them.
 */

/** How many calling windows a campaign may have: two a day for a week. */
export const MAX_WINDOWS = 14;

export const WINDOWS_EXAMPLE = [
  { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '12:00' },
  { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '13:00', end: '19:00' },
  { days: ['sat'], start: '10:00', end: '14:00' },
];

export const RETRY_EXAMPLE = {
  busy: { after_seconds: 600, max_attempts: 3 },
  no_answer: { after_seconds: 3600, max_attempts: 3 },
  machine: { after_seconds: 86_400, max_attempts: 2 },
};

/** A window's end must come after its start: one that runs past midnight is written as two. */
export const CallingWindowsSchema = z
  .array(CallingWindow)
  .min(1)
  .max(MAX_WINDOWS)
  .superRefine((windows, ctx) => {
    windows.forEach((w, i) => {
      if (w.end <= w.start)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'end'],
          message: 'must be after start on the same day (a window past midnight is written as two)',
        });
      if (new Set(w.days).size !== w.days.length)
        ctx.addIssue({ code: 'custom', path: [i, 'days'], message: 'must name each day once' });
    });
  })
  .openapi('CallingWindows', {
    description:
      `When contacts may be called, in each contact's local time (its time zone, else the campaign's): 1 to ` +
      `${MAX_WINDOWS} windows, each some days (${WEEKDAYS.join(', ')}) from \`start\` to \`end\` (HH:MM, 24-hour, ` +
      'end excluded and after start; `24:00` is the end of the day, so `00:00` to `24:00` is all day, and a window past ' +
      'midnight is written as two, one to 24:00 and one from 00:00)',
    example: WINDOWS_EXAMPLE,
  });

// The contract's RetryPolicy, made again here: a zod schema has `.openapi()` only when it was created
// after @hono/zod-openapi extended zod, which the contract cannot rely on (see FlowStepsSchema); its
// fields are described with zod's own `.meta()`, which the document generator reads too.
const RetryRuleSchema = z.strictObject({
  after_seconds: RetryRule.shape.after_seconds.meta({
    description: 'Seconds to wait before the next attempt (0 to 2592000, 30 days)',
    example: 600,
  }),
  max_attempts: RetryRule.shape.max_attempts.meta({
    description: 'Attempts the contact may have in all, this one counted (1 to 20)',
    example: 3,
  }),
});

export const RetryPolicySchema = z
  .strictObject(
    Object.fromEntries(
      RETRY_OUTCOMES.map((o) => [
        o,
        RetryRuleSchema.optional().openapi({
          description: `When an attempt ended ${o}: retry after a while, while attempts are left`,
          example: RETRY_EXAMPLE.busy,
        }),
      ]),
    ) as Record<(typeof RETRY_OUTCOMES)[number], z.ZodOptional<typeof RetryRuleSchema>>,
  )
  .openapi('RetryPolicy', {
    description:
      `For each outcome of an attempt that may be retried (${RETRY_OUTCOMES.join(', ')}; machine: an amd step ` +
      'judged a machine; lost: the call vanished with its sidecar), how long to wait (`after_seconds`, up to 30 ' +
      'days) and how many attempts the contact may have in all (`max_attempts`, 1 to 20). An outcome not named ' +
      'is not retried; an answered call never is.',
    example: RETRY_EXAMPLE,
  });

const iso = (description: string) =>
  z.iso.datetime({ offset: true }).openapi({ description, example: '2026-11-23T15:23:51.213Z' });

const COUNTER_WORDS: Record<string, string> = {
  total: 'Contacts in the campaign',
  pending: 'Contacts with an attempt due, now or later',
  in_progress: 'Contacts with an attempt leased or dialling',
  done: 'Contacts done: answered, or no retry left',
  dnc_skipped: 'Contacts found on the do-not-call list when due, never dialled',
  canceled: 'Contacts ended by canceling the campaign',
  attempts: 'Attempts made',
  outside_window: 'Times a due contact was moved to its next calling window',
};

function counterWords(name: string): string {
  if (COUNTER_WORDS[name]) return COUNTER_WORDS[name];
  if (name.startsWith('outcome_')) return `Attempts that ended ${name.slice('outcome_'.length)}`;
  return `Answers an amd step judged ${name.slice('answered_by_'.length)}`;
}

export const CampaignCountersSchema = z
  .object(
    Object.fromEntries(
      CAMPAIGN_COUNTERS.map((name) => [
        name,
        z
          .number()
          .int()
          .openapi({ description: counterWords(name), example: 0 }),
      ]),
    ) as Record<(typeof CAMPAIGN_COUNTERS)[number], z.ZodNumber>,
  )
  .openapi('CampaignCounters', {
    description:
      'Kept as the work happens, in the same transaction: contacts by state (total, pending, in_progress, done, ' +
      'canceled; dnc_skipped: found on the do-not-call list when due), attempts made, due contacts moved to ' +
      'their next window (outside_window), attempts by outcome (outcome_…) and answers by who answered ' +
      '(answered_by_…, after an amd step)',
    example: Object.fromEntries(CAMPAIGN_COUNTERS.map((name) => [name, 0])),
  });

export const CampaignStateSchema = z.enum(CAMPAIGN_STATES).openapi({
  description:
    'draft (being set up) → running ⇄ paused → completed (every contact done) or canceled. Only draft and ' +
    'paused campaigns can be changed',
  example: 'draft',
});

/** What a campaign's `status_callback` receives, when `status_callback_events` is given. */
export const CampaignCallbackEventsSchema = z
  .array(z.enum(CAMPAIGN_CALLBACK_EVENTS))
  .min(1)
  .max(CAMPAIGN_CALLBACK_EVENTS.length)
  .openapi({
    description:
      `Which campaign webhooks are sent (default: both): ${CAMPAIGN_WEBHOOK_KINDS.state} on each change of state ` +
      `(running, paused, running again on resume, completed, canceled) and ${CAMPAIGN_WEBHOOK_KINDS.progress} ` +
      'with the counters, at most one per CAMPAIGN_PROGRESS_WEBHOOK_SECONDS while they move and a last one ' +
      'when the campaign completes',
    example: [CAMPAIGN_WEBHOOK_KINDS.state],
  });

/**
 * A campaign's progress: the data of an `event: campaign` frame on the live stream, and (with `type`)
 * the body of a campaign webhook. The contract's CampaignProgress and CampaignWebhook, described,
 * each one flat object (an extension of a named schema would be written as allOf).
 */
const progressFields = {
  campaign_id: z
    .uuid()
    .openapi({ description: 'The campaign id', example: '3c1a9e4f-5b6d-4e7f-8a9b-0c1d2e3f4a5b' }),
  state: CampaignStateSchema,
  counters: CampaignCountersSchema,
  at: iso('When the campaign stood so'),
};

export const CampaignProgressSchema = z.object(progressFields).openapi('CampaignProgress', {
  description:
    'A campaign’s state and counters (as in the campaign) as they stood at `at`: a snapshot, the newest ' +
    'replacing any before it',
});

export const CampaignWebhookSchema = z
  .object({
    ...progressFields,
    type: z.enum(CAMPAIGN_CALLBACK_EVENTS).openapi({
      description: `${CAMPAIGN_WEBHOOK_KINDS.state}: the state changed; ${CAMPAIGN_WEBHOOK_KINDS.progress}: the counters moved`,
      example: CAMPAIGN_WEBHOOK_KINDS.progress,
    }),
    previous_state: z
      .enum(CAMPAIGN_STATES)
      .optional()
      .openapi({
        description: `${CAMPAIGN_WEBHOOK_KINDS.state} only: the state the campaign left`,
        example: 'running',
      }),
  })
  .openapi('CampaignWebhook', {
    description:
      'The JSON body POSTed to a campaign’s `status_callback`, signed as call webhooks are (Outdial-Signature); ' +
      'the request names the campaign in `Outdial-Campaign-Id`',
  });

export const CampaignSchema = z
  .object({
    campaign_id: z
      .uuid()
      .openapi({ description: 'The campaign id', example: '3c1a9e4f-5b6d-4e7f-8a9b-0c1d2e3f4a5b' }),
    name: z.string().openapi({ description: 'Its name', example: 'Appointment reminders, week 48' }),
    owner_id: z.uuid().openapi({
      description: 'The user who created it; its calls are that user’s',
      example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b',
    }),
    state: CampaignStateSchema,
    flow_id: z.uuid().nullable().openapi({
      description: 'The saved flow answered calls run, or null for the dialplan target',
      example: '0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10',
    }),
    flow_version: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'The flow’s version its calls run', example: 2 }),
    context: z.string().nullable().openapi({
      description: 'Without a flow: the dialplan context answered calls go to',
      example: null,
    }),
    extension: z.string().nullable().openapi({ description: 'Without a flow: the extension', example: null }),
    priority: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Without a flow: the priority', example: null }),
    caller_id: z
      .string()
      .nullable()
      .openapi({ description: 'Caller id shown to contacts', example: 'Clinic <5550001111>' }),
    timezone: z.string().openapi({
      description: 'The time zone of contacts that have none of their own',
      example: 'America/New_York',
    }),
    windows: CallingWindowsSchema,
    starts_at: iso('Not before this (null: once started)').nullable(),
    ends_at: iso('Not after this (null: until every contact is done)').nullable(),
    retry: RetryPolicySchema,
    max_attempts_per_day: z
      .number()
      .int()
      .openapi({ description: 'Attempts per contact per local day', example: 2 }),
    cps: z.number().int().openapi({ description: 'Calls started per second, at most', example: 5 }),
    max_concurrent: z.number().int().openapi({ description: 'Calls up at once, at most', example: 50 }),
    ring_timeout_ms: z
      .number()
      .int()
      .openapi({ description: 'How long each call may ring, in milliseconds', example: 30000 }),
    variables: z.record(z.string(), z.string()).openapi({
      description: 'Variables every call of the campaign carries (OUTDIAL_VAR_<name> on the channel)',
      example: { CAMPAIGN: 'week-48' },
    }),
    status_callback: z.string().nullable().openapi({
      description: 'Where its signed webhooks go (see CampaignWebhook), or null for none',
      example: 'https://example.com/hooks/campaigns',
    }),
    status_callback_events: CampaignCallbackEventsSchema.nullable(),
    counters: CampaignCountersSchema,
    created_at: iso('When it was created'),
    updated_at: iso('Last change of its settings or state'),
    started_at: iso('When it was started').nullable(),
    finished_at: iso('When it completed or was canceled').nullable(),
  })
  .openapi('Campaign');

export const CampaignListSchema = z
  .object({
    items: z.array(CampaignSchema).openapi({ description: 'Campaigns, newest first' }),
    next_cursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; null on the last page', example: null }),
  })
  .openapi('CampaignList');

export const DncEntrySchema = z
  .object({
    phone_number: z.string().openapi({ description: 'The number, in E.164', example: '+15551234000' }),
    source: z.enum(['api', 'flow', 'import']).openapi({
      description: 'How it was added: through this API, by a flow (the callee asked), or by an import',
      example: 'api',
    }),
    note: z.string().nullable().openapi({ description: 'Why, in words', example: 'Asked on 2026-11-23' }),
    added_by: z.uuid().nullable().openapi({
      description: 'The user who added it (null for a flow)',
      example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b',
    }),
    added_at: iso('When it was added'),
  })
  .openapi('DncEntry');

export const DncListSchema = z
  .object({
    items: z.array(DncEntrySchema).openapi({ description: 'Entries, newest first' }),
    next_cursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; null on the last page', example: null }),
  })
  .openapi('DncList');

export const DncBulkResultSchema = z
  .object({
    received: z.number().int().openapi({ description: 'Rows in the request', example: 3 }),
    added: z.number().int().openapi({ description: 'Numbers newly put on the list', example: 2 }),
    already_listed: z.number().int().openapi({
      description:
        'Numbers that were on the list already, or given twice (their entries are kept as they were)',
      example: 1,
    }),
  })
  .openapi('DncBulkResult');
