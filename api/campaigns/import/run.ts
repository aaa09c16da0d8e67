import {
  insertContacts,
  lockCampaignState,
  type NewContact,
  tryImportLock,
} from '../../../db/queries/campaign-contacts.ts';
import { addCampaignCounters } from '../../../db/queries/campaign-counters.ts';
import type { Db } from '../../../db/types.ts';
import { ApiError } from '../../errors.ts';
import type { CampaignState } from '../../shared/contract/index.ts';
import type { ImportRow } from './rows.ts';

/** The states in which a campaign takes contacts. */
export const IMPORTABLE_STATES: readonly CampaignState[] = ['draft', 'running', 'paused'];

/** Contacts per INSERT: a few thousand parameters, far from the protocol's 65,535. */
const BATCH_ROWS = 1000;
/**
 * A batch is written early once this long has passed since the last statement, so that a slowly
 * arriving body never leaves the transaction idle long enough for the server to end it.
 */
const FLUSH_AFTER_MS = 500;
const LOCK_POLL_MS = 100;
/** Rejected rows listed in the report (all are counted). */
export const MAX_REJECTED_LISTED = 1000;

/** accepted (new contacts) + merged (numbers the campaign already had) + rejected_count = the rows. */
export interface ImportReport {
  accepted: number;
  merged: number;
  rejected: { row: number; reason: string }[];
  rejected_count: number;
}

export interface ImportOptions {
  campaignId: string;
  rows: AsyncIterable<ImportRow>;
  maxRows: number;
  /** How long to wait for another import into the same campaign to end. */
  lockWaitMs: number;
}

function campaignClosed(state: CampaignState | null): ApiError {
  return state === null
    ? new ApiError('campaign_not_found', 'Campaign not found')
    : new ApiError(
        'campaign_closed',
        `The campaign is ${state}; contacts are added while it is draft, running or paused`,
      );
}

/** Refuses an import into a campaign that no longer takes contacts. */
export function assertImportable(state: CampaignState | null): void {
  if (state === null || !IMPORTABLE_STATES.includes(state)) throw campaignClosed(state);
}

/**
 * Imports the rows in one transaction, batch by batch as they arrive: every accepted row is kept or,
 * if anything fails (the body, a cap, the database, the campaign closing), none is. A number the
 * campaign already has is merged: the contact first imported keeps its data. The `total` and
 * `pending` counters grow by the new contacts in the same transaction.
 */
export async function importContacts(db: Db, options: ImportOptions): Promise<ImportReport> {
  const { campaignId } = options;
  return db.transaction(async (tx) => {
    const deadline = Date.now() + options.lockWaitMs;
    while (!(await tryImportLock(tx, campaignId))) {
      if (Date.now() >= deadline) {
        throw new ApiError(
          'import_in_progress',
          'Another import into this campaign is still running; send this one again when it has ended',
          { retryAfter: 5 },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
    let batch: NewContact[] = [];
    let lastStatement = Date.now();
    let valid = 0;
    let inserted = 0;
    let rejectedCount = 0;
    const rejected: ImportReport['rejected'] = [];
    const flush = async () => {
      if (batch.length > 0) inserted += await insertContacts(tx, campaignId, batch);
      batch = [];
      lastStatement = Date.now();
    };
    for await (const { row, check } of options.rows) {
      if (row > options.maxRows) {
        throw new ApiError(
          'payload_too_large',
          `The import has more than ${options.maxRows} rows (CONTACTS_IMPORT_MAX_ROWS); nothing was imported`,
        );
      }
      if (!check.ok) {
        rejectedCount++;
        if (rejected.length < MAX_REJECTED_LISTED) rejected.push({ row, reason: check.reason });
        continue;
      }
      valid++;
      batch.push({ ...check.contact, sourceRow: row });
      if (batch.length >= BATCH_ROWS || Date.now() - lastStatement > FLUSH_AFTER_MS) await flush();
    }
    await flush();
    assertImportable(await lockCampaignState(tx, campaignId));
    await addCampaignCounters(tx, campaignId, { total: inserted, pending: inserted });
    return { accepted: inserted, merged: valid - inserted, rejected, rejected_count: rejectedCount };
  });
}
