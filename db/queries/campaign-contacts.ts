import { and, asc, eq, gt, inArray, like, type SQL, sql } from 'drizzle-orm';
import type { CampaignState, ContactState } from '../../api/shared/contract/index.ts';
import { calls, campaignAttempts, campaignContacts, campaigns } from '../schema.ts';
import type { Db } from '../types.ts';

/** A campaign's contacts: the import's batches, the listing, and the pages of the results export. */

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
type Runner = Db | Tx;

/**
 * The campaign's state, its row share-locked until the transaction ends: a cancel (which updates the
 * row) waits for an import that read `running` to commit, and then sees the imported contacts.
 */
export async function lockCampaignState(tx: Tx, id: string): Promise<CampaignState | null> {
  const rows = await tx
    .select({ state: campaigns.state })
    .from(campaigns)
    .where(eq(campaigns.id, id))
    .for('share');
  return rows[0]?.state ?? null;
}

/**
 * Tries to take the campaign's import lock for the rest of the transaction: imports into one campaign
 * run one after another, so two that share numbers never wait on each other's rows in opposite orders.
 */
export async function tryImportLock(tx: Tx, campaignId: string): Promise<boolean> {
  const rows = await tx.execute<{ locked: boolean }>(
    sql`select pg_try_advisory_xact_lock(hashtextextended(${`campaign-contacts-import:${campaignId}`}, 0)) as locked`,
  );
  return (rowsOf(rows)[0] as { locked?: boolean } | undefined)?.locked === true;
}

export interface NewContact {
  phoneNumber: string;
  timezone: string | null;
  variables: Record<string, string>;
  sourceRow: number;
}

/**
 * Inserts contacts as pending and due now; a number the campaign already has (from an earlier import,
 * or earlier in this one) is left as it is. Returns how many were new.
 */
export async function insertContacts(tx: Tx, campaignId: string, rows: NewContact[]): Promise<number> {
  if (rows.length === 0) return 0;
  // The batch travels as one JSON text parameter, whatever its size: thousands of bound parameters
  // cost each driver far more to encode (and the server to parse) than one document does.
  const batch = JSON.stringify(
    rows.map((r) => ({ p: r.phoneNumber, z: r.timezone, v: r.variables, s: r.sourceRow })),
  );
  const result = await tx.execute(sql`
    insert into ${campaignContacts} (campaign_id, phone_number, timezone, variables, source_row, next_attempt_at)
    select ${campaignId}::uuid, r.p, r.z, coalesce(r.v, '{}'::jsonb), r.s, now()
    from jsonb_to_recordset(${batch}::jsonb) as r(p text, z text, v jsonb, s integer)
    on conflict (campaign_id, phone_number) do nothing
    returning 1`);
  return rowsOf(result).length;
}

/** The rows of a raw statement's result, whichever driver ran it. */
function rowsOf(result: unknown): unknown[] {
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as unknown[];
}

export type ContactRow = typeof campaignContacts.$inferSelect;

export interface ListContactsFilter {
  campaignId: string;
  state?: ContactState | undefined;
  finalOutcome?: string | undefined;
  /** E.164 digits the number starts with (`+1202`). */
  phonePrefix?: string | undefined;
  /** Keyset cursor: contacts after this id. */
  afterId?: number | undefined;
  limit: number;
}

/**
 * A page of contacts in id order (the order they were imported), read along the (campaign_id, id)
 * index from the cursor on. Spelled as a range of one campaign ordered by (campaign_id, id): with
 * `campaign_id = $1 order by id` the planner walks the primary key instead, expecting this campaign's
 * rows to be spread evenly, and reads every row of the campaigns imported before it first (500 ms a
 * first page behind a million-contact campaign).
 */
export async function listContacts(db: Runner, filter: ListContactsFilter): Promise<ContactRow[]> {
  const id = filter.campaignId;
  const where: SQL[] = [
    sql`${campaignContacts.campaignId} <= ${id}::uuid`,
    filter.afterId === undefined
      ? sql`${campaignContacts.campaignId} >= ${id}::uuid`
      : sql`(${campaignContacts.campaignId}, ${campaignContacts.id}) > (${id}::uuid, ${filter.afterId}::bigint)`,
  ];
  if (filter.state) where.push(eq(campaignContacts.state, filter.state));
  if (filter.finalOutcome) where.push(eq(campaignContacts.finalOutcome, filter.finalOutcome));
  // The prefix is + and digits only (checked by the route): no LIKE wildcard can be in it.
  if (filter.phonePrefix) where.push(like(campaignContacts.phoneNumber, `${filter.phonePrefix}%`));
  return db
    .select()
    .from(campaignContacts)
    .where(and(...where))
    .orderBy(asc(campaignContacts.campaignId), asc(campaignContacts.id))
    .limit(filter.limit);
}

export interface AttemptResult {
  contactId: number;
  attempt: number;
  callId: string;
  outcome: string | null;
  startedAt: Date;
  endedAt: Date | null;
  answeredAt: Date | null;
  answers: Record<string, unknown> | null;
}

export interface ContactResult {
  contact: Pick<
    ContactRow,
    'id' | 'phoneNumber' | 'state' | 'attempts' | 'finalOutcome' | 'answeredBy' | 'variables'
  >;
  attempts: AttemptResult[];
}

/**
 * One page of the results export: contacts after `afterId` in id order, each with its attempts (in
 * order) and what each attempt's call reported (when it was dialled, answered and ended, its flow's
 * answers). Two queries, whatever the page size.
 */
export async function resultsPage(
  db: Runner,
  campaignId: string,
  afterId: number,
  limit: number,
): Promise<ContactResult[]> {
  const contacts = await db
    .select({
      id: campaignContacts.id,
      phoneNumber: campaignContacts.phoneNumber,
      state: campaignContacts.state,
      attempts: campaignContacts.attempts,
      finalOutcome: campaignContacts.finalOutcome,
      answeredBy: campaignContacts.answeredBy,
      variables: campaignContacts.variables,
    })
    .from(campaignContacts)
    .where(and(eq(campaignContacts.campaignId, campaignId), gt(campaignContacts.id, afterId)))
    .orderBy(asc(campaignContacts.id))
    .limit(limit);
  if (contacts.length === 0) return [];
  const attempts = await db
    .select({
      contactId: campaignAttempts.contactId,
      attempt: campaignAttempts.attempt,
      callId: campaignAttempts.callId,
      outcome: campaignAttempts.outcome,
      startedAt: sql<Date>`coalesce(${calls.dialedAt}, ${campaignAttempts.leasedAt})`.mapWith(
        campaignAttempts.leasedAt,
      ),
      endedAt: sql<Date | null>`coalesce(${campaignAttempts.endedAt}, ${calls.endedAt})`.mapWith(
        campaignAttempts.endedAt,
      ),
      answeredAt: calls.answeredAt,
      answers: calls.answers,
    })
    .from(campaignAttempts)
    .leftJoin(calls, eq(calls.id, campaignAttempts.callId))
    .where(
      and(
        eq(campaignAttempts.campaignId, campaignId),
        inArray(
          campaignAttempts.contactId,
          contacts.map((c) => c.id),
        ),
      ),
    )
    .orderBy(asc(campaignAttempts.contactId), asc(campaignAttempts.attempt));
  const byContact = new Map<number, AttemptResult[]>();
  for (const a of attempts) {
    const list = byContact.get(a.contactId) ?? [];
    list.push(a as AttemptResult);
    byContact.set(a.contactId, list);
  }
  return contacts.map((contact) => ({ contact, attempts: byContact.get(contact.id) ?? [] }));
}

/**
 * What the export's header needs before its first row: the most attempts any contact had, and the
 * names of every answer the campaign's calls gave.
 */
export async function resultsShape(
  db: Runner,
  campaignId: string,
): Promise<{ maxAttempts: number; answerNames: string[] }> {
  const [max] = await db
    .select({ n: sql<number>`coalesce(max(${campaignAttempts.attempt}), 0)::int` })
    .from(campaignAttempts)
    .where(eq(campaignAttempts.campaignId, campaignId));
  const names = await db
    .selectDistinct({ name: sql<string>`jsonb_object_keys(${calls.answers})` })
    .from(calls)
    .where(eq(calls.campaignId, campaignId));
  return {
    maxAttempts: Number(max?.n ?? 0),
    answerNames: names.map((r) => r.name).sort(),
  };
}
