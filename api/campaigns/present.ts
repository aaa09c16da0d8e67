import type { z } from '@hono/zod-openapi';
import type { CampaignRow } from '../../db/queries/campaigns.ts';
import type { DncRow } from '../../db/queries/dnc.ts';
import type { CampaignCountersSchema, CampaignSchema, DncEntrySchema } from './bodies.ts';

const iso = (d: Date) => d.toISOString();
const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

type Counters = z.infer<typeof CampaignCountersSchema>;

export function presentCampaign(
  row: CampaignRow,
  counters: Record<string, number>,
): z.infer<typeof CampaignSchema> {
  return {
    campaign_id: row.id,
    name: row.name,
    owner_id: row.ownerId,
    state: row.state,
    flow_id: row.flowId,
    flow_version: row.flowVersion,
    context: row.context,
    extension: row.extension,
    priority: row.priority,
    caller_id: row.callerId,
    timezone: row.timezone,
    windows: row.windows,
    starts_at: isoOrNull(row.startsAt),
    ends_at: isoOrNull(row.endsAt),
    retry: row.retry,
    max_attempts_per_day: row.maxAttemptsPerDay,
    cps: row.cps,
    max_concurrent: row.maxConcurrent,
    ring_timeout_ms: row.ringTimeoutMs,
    variables: row.variables,
    status_callback: row.statusCallback,
    status_callback_events: row.statusCallbackEvents,
    counters: counters as Counters,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    started_at: isoOrNull(row.startedAt),
    finished_at: isoOrNull(row.finishedAt),
  };
}

export function presentDnc(row: DncRow): z.infer<typeof DncEntrySchema> {
  return {
    phone_number: row.phoneNumber,
    source: row.source,
    note: row.note,
    added_by: row.addedBy,
    added_at: iso(row.addedAt),
  };
}
