import type { z } from '@hono/zod-openapi';
import type { FlowRow, FlowVersionRow, FlowVersionSummary } from '../../db/queries/flows.ts';
import type { Flow } from '../shared/contract/index.ts';
import type { FlowSchema, FlowVersionSchema, FlowVersionSummarySchema } from './bodies.ts';

const iso = (d: Date) => d.toISOString();

export function presentFlow(flow: FlowRow): z.infer<typeof FlowSchema> {
  return {
    flow_id: flow.id,
    name: flow.name,
    description: flow.description,
    owner_id: flow.ownerId,
    latest_version: flow.latestVersion,
    archived: flow.archivedAt !== null,
    archived_at: flow.archivedAt ? iso(flow.archivedAt) : null,
    created_at: iso(flow.createdAt),
    updated_at: iso(flow.updatedAt),
  };
}

export function presentVersionSummary(v: FlowVersionSummary): z.infer<typeof FlowVersionSummarySchema> {
  return {
    version: v.version,
    created_at: iso(v.createdAt),
    used_at: v.usedAt ? iso(v.usedAt) : null,
    step_count: v.stepCount,
  };
}

export function presentFlowVersion(v: FlowVersionRow): z.infer<typeof FlowVersionSchema> {
  return {
    flow_id: v.flowId,
    version: v.version,
    steps: v.steps as Flow,
    created_at: iso(v.createdAt),
    used_at: v.usedAt ? iso(v.usedAt) : null,
  };
}
