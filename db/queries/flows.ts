import { and, asc, desc, eq, isNull, lt, or, type SQL, sql } from 'drizzle-orm';
import { flows, flowVersions } from '../schema.ts';
import type { Db } from '../types.ts';

export type FlowRow = typeof flows.$inferSelect;
export type FlowVersionRow = typeof flowVersions.$inferSelect;
export type FlowVersionSummary = Pick<FlowVersionRow, 'version' | 'createdAt' | 'usedAt' | 'createdBy'> & {
  stepCount: number;
};

/** A new saved flow with its first version, in one transaction. */
export async function createFlow(
  db: Db,
  values: { ownerId: string; name: string; description: string | null; steps: unknown[] },
): Promise<{ flow: FlowRow; version: FlowVersionRow }> {
  return db.transaction(async (tx) => {
    const [flow] = await tx
      .insert(flows)
      .values({
        ownerId: values.ownerId,
        name: values.name,
        description: values.description,
        latestVersion: 1,
      })
      .returning();
    const [version] = await tx
      .insert(flowVersions)
      .values({ flowId: flow!.id, version: 1, steps: values.steps, createdBy: values.ownerId })
      .returning();
    return { flow: flow!, version: version! };
  });
}

/** The flow if `ownerId` is null (any flow) or owns it. */
export async function getFlowForReader(db: Db, id: string, ownerId: string | null): Promise<FlowRow | null> {
  const where = ownerId ? and(eq(flows.id, id), eq(flows.ownerId, ownerId)) : eq(flows.id, id);
  const rows = await db.select().from(flows).where(where).limit(1);
  return rows[0] ?? null;
}

export async function getFlowVersion(
  db: Db,
  flowId: string,
  version: number,
): Promise<FlowVersionRow | null> {
  const rows = await db
    .select()
    .from(flowVersions)
    .where(and(eq(flowVersions.flowId, flowId), eq(flowVersions.version, version)))
    .limit(1);
  return rows[0] ?? null;
}

export async function listFlowVersions(db: Db, flowId: string): Promise<FlowVersionSummary[]> {
  return db
    .select({
      version: flowVersions.version,
      createdAt: flowVersions.createdAt,
      createdBy: flowVersions.createdBy,
      usedAt: flowVersions.usedAt,
      stepCount: sql<number>`jsonb_array_length(${flowVersions.steps})::int`,
    })
    .from(flowVersions)
    .where(eq(flowVersions.flowId, flowId))
    .orderBy(asc(flowVersions.version));
}

export interface ListFlowsFilter {
  ownerId: string | null;
  includeArchived: boolean;
  /** Keyset cursor: rows strictly older than this (created_at, id) pair. */
  before?: { createdAt: Date; id: string } | undefined;
  limit: number;
}

export async function listFlows(db: Db, filter: ListFlowsFilter): Promise<FlowRow[]> {
  const where: SQL[] = [];
  if (filter.ownerId) where.push(eq(flows.ownerId, filter.ownerId));
  if (!filter.includeArchived) where.push(isNull(flows.archivedAt));
  if (filter.before) {
    const b = filter.before;
    where.push(
      or(lt(flows.createdAt, b.createdAt), and(eq(flows.createdAt, b.createdAt), lt(flows.id, b.id)))!,
    );
  }
  return db
    .select()
    .from(flows)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(flows.createdAt), desc(flows.id))
    .limit(filter.limit);
}

/**
 * Adds the next version of a flow that is not archived. The flow's row is updated first, which locks
 * it until the transaction ends: concurrent additions take their numbers one after another, never
 * the same one. Null when the flow is archived (or gone).
 */
export async function addFlowVersion(
  db: Db,
  values: { flowId: string; steps: unknown[]; createdBy: string },
): Promise<{ flow: FlowRow; version: FlowVersionRow } | null> {
  return db.transaction(async (tx) => {
    const [flow] = await tx
      .update(flows)
      .set({ latestVersion: sql`${flows.latestVersion} + 1`, updatedAt: new Date() })
      .where(and(eq(flows.id, values.flowId), isNull(flows.archivedAt)))
      .returning();
    if (!flow) return null;
    const [version] = await tx
      .insert(flowVersions)
      .values({
        flowId: flow.id,
        version: flow.latestVersion,
        steps: values.steps,
        createdBy: values.createdBy,
      })
      .returning();
    return { flow, version: version! };
  });
}

/** Archives a flow; archiving an archived flow changes nothing. */
export async function archiveFlow(db: Db, flowId: string): Promise<FlowRow | null> {
  const now = new Date();
  const [flow] = await db
    .update(flows)
    .set({
      archivedAt: sql`coalesce(${flows.archivedAt}, ${now.toISOString()}::timestamptz)`,
      updatedAt: now,
    })
    .where(eq(flows.id, flowId))
    .returning();
  return flow ?? null;
}

/** A call was about to use a version of a flow that is archived (or gone). */
export class FlowArchivedError extends Error {
  readonly flowArchived = true;
  constructor(readonly flowId: string) {
    super(`flow ${flowId} is archived`);
  }
}

/**
 * Marks a version used (the first use's time stays), inside the caller's transaction; throws
 * FlowArchivedError when its flow is archived. The flow's row is read with a share lock, so an
 * archive that commits first is seen and one that comes later waits for this transaction.
 */
export async function markFlowVersionUsed(tx: Pick<Db, 'update'>, flowId: string, version: number) {
  const rows = await tx
    .update(flowVersions)
    .set({ usedAt: sql`coalesce(${flowVersions.usedAt}, now())` })
    .where(
      and(
        eq(flowVersions.flowId, flowId),
        eq(flowVersions.version, version),
        sql`exists (select 1 from ${flows} where ${flows.id} = ${flowId} and ${flows.archivedAt} is null for share)`,
      ),
    )
    .returning({ version: flowVersions.version });
  if (rows.length === 0) throw new FlowArchivedError(flowId);
}
