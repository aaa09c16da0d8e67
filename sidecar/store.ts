import { Database, type Statement } from 'bun:sqlite';
import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type {
  CallEvent,
  CallStatus,
  FlowEventDetail,
  FlowEventType,
  OriginateCommand,
} from '../api/shared/contract/index.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE, tightenFile } from '../db/private-files.ts';
import type { FlowState } from './flow/state.ts';
import type { CallTrack, MappedEvent } from './mapping.ts';

/**
 * The sidecar's durable state in one SQLite file (WAL): calls in flight with their per-call
 * sequence counters, mapper state, hang-up intent and place in the pacing queue; the event
 * outbox; dead letters; and the command jtis already used. A call's state change and the events
 * it produces are written in one transaction, so a crash never leaves one without the other.
 */

export type CallState =
  /** Waiting in the pacing queue; ARI has not been asked. */
  | 'queued'
  /** The originate is on its way to ARI (or was, when the process died). */
  | 'originating'
  /** ARI accepted the originate; the call is followed through events. */
  | 'live'
  /** Ended (or left the queue without ringing); kept a while to answer repeated commands. */
  | 'finished';

export interface CallRow {
  callId: string;
  state: CallState;
  /** ARI's originate reply (or a GET of the channel) confirmed it; only then may reconciliation end it. */
  accepted: boolean;
  /** Last per-call event sequence number used. */
  seq: number;
  track: CallTrack;
  command: OriginateCommand;
  queueSeq: number | null;
  /** The flow's progress once it started (null before, and for calls without a flow). */
  flow: FlowState | null;
  createdAt: number;
  updatedAt: number;
  /**
   * occurred_at of the last event written for the call in this process (not stored). ARI stamps the
   * channel's events with its own clock and a flow's events are stamped here when they happen, so
   * an event processed after another can carry an earlier time; it takes this one instead.
   */
  lastEventAt?: string;
}

/**
 * A flow event to append: its status is the call's at that moment (flow events never move it), and
 * `key` names it within the call (run and type), so that the same event written twice is kept once.
 */
export interface FlowEventToWrite {
  type: FlowEventType;
  status: CallStatus;
  occurred_at: string;
  reason: string | null;
  flow: FlowEventDetail;
  key: string;
}

export type EventToWrite = MappedEvent | FlowEventToWrite;

export interface OutboxRow {
  id: number;
  event: CallEvent;
  /** When the sidecar saw what the event reports (ms), for the event-lag metric. */
  observedAt: number;
}

interface CallRecord {
  call_id: string;
  state: CallState;
  status: CallStatus;
  accepted: number;
  seq: number;
  track: string;
  command: string;
  queue_seq: number | null;
  flow: string | null;
  created_at: number;
  updated_at: number;
}

/** 2: calls.flow. */
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS calls (
  call_id TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('queued', 'originating', 'live', 'finished')),
  status TEXT NOT NULL,
  accepted INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL DEFAULT 0,
  track TEXT NOT NULL,
  command TEXT NOT NULL,
  queue_seq INTEGER,
  flow TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_by_state ON calls (state, updated_at);
CREATE UNIQUE INDEX IF NOT EXISTS calls_by_queue ON calls (queue_seq) WHERE queue_seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  call_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL,
  observed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  call_id TEXT NOT NULL,
  body TEXT NOT NULL,
  http_status INTEGER,
  detail TEXT,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS used_jti (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hung_up_before_originate (
  call_id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * The outbox holds call events and commands: owner-only, whatever the umask. SQLite gives the WAL and
 * shared-memory files it creates the database file's mode, so the file is created (or tightened) before
 * SQLite opens it; files left by an earlier run are tightened too.
 */
function preparePrivateDatabaseFile(path: string) {
  ensurePrivateDir(dirname(path));
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) tightenFile(file);
}

export class Store {
  readonly path: string;
  private readonly db: Database;
  private readonly sidecarId: string;
  private readonly q: {
    getCall: Statement<CallRecord, [string]>;
    activeCalls: Statement<CallRecord, []>;
    upsertCall: Statement<unknown, [Record<string, string | number | null>]>;
    deleteCall: Statement<unknown, [string]>;
    nextQueueSeq: Statement<{ next: number }, []>;
    queueDepth: Statement<{ n: number }, []>;
    queuePosition: Statement<{ n: number }, [number]>;
    insertOutbox: Statement<unknown, [string, string, number, string, number]>;
    hasEvent: Statement<{ n: number }, [string]>;
    peekOutbox: Statement<{ id: number; body: string; observed_at: number }, [number]>;
    deleteOutbox: Statement<unknown, [number]>;
    outboxDepth: Statement<{ n: number }, []>;
    insertDead: Statement<unknown, [string, string, string, number | null, string, number]>;
    deadCount: Statement<{ n: number }, []>;
    claimJti: Statement<unknown, [string, number]>;
    pruneJti: Statement<unknown, [number]>;
    rememberHangup: Statement<unknown, [string, number]>;
    hungUp: Statement<{ n: number }, [string, number]>;
    pruneHangups: Statement<unknown, [number]>;
    pruneFinished: Statement<unknown, [number]>;
  };

  constructor(path: string, sidecarId: string) {
    this.path = path;
    this.sidecarId = sidecarId;
    if (path !== ':memory:') preparePrivateDatabaseFile(path);
    this.db = new Database(path, { create: true, strict: true });
    // WAL + NORMAL survives a killed process (the case we design for); fsync per commit would
    // only add safety against a host crash, at a large cost per event.
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    const version = (this.db.query('PRAGMA user_version').get() as { user_version: number }).user_version;
    if (version > SCHEMA_VERSION) {
      throw new Error(`outbox ${path} has schema ${version}, newer than this sidecar (${SCHEMA_VERSION})`);
    }
    this.db.exec(SCHEMA);
    if (version === 1) this.db.exec('ALTER TABLE calls ADD COLUMN flow TEXT');
    this.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    this.q = {
      getCall: this.db.query('SELECT * FROM calls WHERE call_id = ?'),
      activeCalls: this.db.query(
        "SELECT * FROM calls WHERE state != 'finished' ORDER BY created_at, call_id",
      ),
      upsertCall: this.db.query(
        `INSERT INTO calls (call_id, state, status, accepted, seq, track, command, queue_seq, flow, created_at, updated_at)
         VALUES ($call_id, $state, $status, $accepted, $seq, $track, $command, $queue_seq, $flow, $created_at, $updated_at)
         ON CONFLICT (call_id) DO UPDATE SET state = excluded.state, status = excluded.status,
           accepted = excluded.accepted, seq = excluded.seq, track = excluded.track,
           queue_seq = excluded.queue_seq, flow = excluded.flow, updated_at = excluded.updated_at`,
      ),
      deleteCall: this.db.query('DELETE FROM calls WHERE call_id = ?'),
      nextQueueSeq: this.db.query('SELECT COALESCE(MAX(queue_seq), 0) + 1 AS next FROM calls'),
      queueDepth: this.db.query('SELECT COUNT(*) AS n FROM calls WHERE queue_seq IS NOT NULL'),
      queuePosition: this.db.query(
        'SELECT COUNT(*) AS n FROM calls WHERE queue_seq IS NOT NULL AND queue_seq <= ?',
      ),
      insertOutbox: this.db.query(
        'INSERT OR IGNORE INTO outbox (event_id, call_id, seq, body, observed_at) VALUES (?, ?, ?, ?, ?)',
      ),
      hasEvent: this.db.query('SELECT COUNT(*) AS n FROM outbox WHERE event_id = ?'),
      peekOutbox: this.db.query('SELECT id, body, observed_at FROM outbox ORDER BY id LIMIT ?'),
      deleteOutbox: this.db.query('DELETE FROM outbox WHERE id = ?'),
      outboxDepth: this.db.query('SELECT COUNT(*) AS n FROM outbox'),
      insertDead: this.db.query(
        'INSERT INTO dead_letters (event_id, call_id, body, http_status, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      deadCount: this.db.query('SELECT COUNT(*) AS n FROM dead_letters'),
      claimJti: this.db.query('INSERT OR IGNORE INTO used_jti (jti, expires_at) VALUES (?, ?)'),
      pruneJti: this.db.query('DELETE FROM used_jti WHERE expires_at < ?'),
      rememberHangup: this.db.query(
        'INSERT OR REPLACE INTO hung_up_before_originate (call_id, expires_at) VALUES (?, ?)',
      ),
      hungUp: this.db.query(
        'SELECT COUNT(*) AS n FROM hung_up_before_originate WHERE call_id = ? AND expires_at >= ?',
      ),
      pruneHangups: this.db.query('DELETE FROM hung_up_before_originate WHERE expires_at < ?'),
      pruneFinished: this.db.query("DELETE FROM calls WHERE state = 'finished' AND updated_at < ?"),
    };
  }

  getCall(callId: string): CallRow | null {
    const record = this.q.getCall.get(callId);
    return record ? fromRecord(record) : null;
  }

  /** Every call not finished: the queue, the originates in flight and the live calls. */
  activeCalls(): CallRow[] {
    return this.q.activeCalls.all().map(fromRecord);
  }

  /** The next place at the back of the pacing queue. */
  nextQueueSeq(): number {
    return this.q.nextQueueSeq.get()!.next;
  }

  queueDepth(): number {
    return this.q.queueDepth.get()!.n;
  }

  /** 1-based place of a queued call. */
  queuePosition(queueSeq: number): number {
    return this.q.queuePosition.get(queueSeq)!.n;
  }

  /**
   * Writes the call as it now is and appends the events its change produced to the outbox, in
   * one transaction. Sequence numbers are assigned here; the call row is updated in place.
   */
  commit(call: CallRow, mapped: readonly EventToWrite[], observedAt = Date.now()): CallEvent[] {
    const written: CallEvent[] = [];
    this.db.transaction(() => {
      for (const m of mapped) {
        const flow = 'flow' in m ? m : null;
        // A flow event has its own id (call, run, type): written twice, it is kept once.
        const eventId = flow
          ? `${this.sidecarId}:${call.callId}:flow:${flow.key}`
          : `${this.sidecarId}:${call.callId}:${call.seq + 1}`;
        if (flow && this.q.hasEvent.get(eventId)!.n > 0) continue;
        call.seq += 1;
        // ISO times of one format: they order as strings.
        const occurredAt =
          call.lastEventAt !== undefined && m.occurred_at < call.lastEventAt
            ? call.lastEventAt
            : m.occurred_at;
        call.lastEventAt = occurredAt;
        const event: CallEvent = flow
          ? {
              event_id: eventId,
              call_id: call.callId,
              seq: call.seq,
              type: flow.type,
              status: flow.status,
              occurred_at: occurredAt,
              reason: flow.reason,
              hangup_cause: null,
              hangup_cause_txt: null,
              dial_status: null,
              channel: null,
              flow: flow.flow,
            }
          : {
              event_id: eventId,
              call_id: call.callId,
              seq: call.seq,
              type: (m as MappedEvent).type,
              status: m.status,
              occurred_at: occurredAt,
              reason: m.reason,
              hangup_cause: (m as MappedEvent).hangup_cause,
              hangup_cause_txt: (m as MappedEvent).hangup_cause_txt,
              dial_status: (m as MappedEvent).dial_status,
              channel: (m as MappedEvent).channel,
              flow: null,
            };
        this.q.insertOutbox.run(event.event_id, event.call_id, event.seq, JSON.stringify(event), observedAt);
        written.push(event);
      }
      call.updatedAt = Date.now();
      this.q.upsertCall.run(toRecord(call));
    })();
    return written;
  }

  /** Forgets a call that never reached ARI (refused or unavailable at once): no events follow. */
  forget(callId: string): void {
    this.q.deleteCall.run(callId);
  }

  peekOutbox(limit: number): OutboxRow[] {
    return this.q.peekOutbox.all(limit).map((row) => ({
      id: row.id,
      event: JSON.parse(row.body) as CallEvent,
      observedAt: row.observed_at,
    }));
  }

  deleteOutbox(ids: readonly number[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.q.deleteOutbox.run(id);
    })();
  }

  outboxDepth(): number {
    return this.q.outboxDepth.get()!.n;
  }

  /** Moves refused events out of the outbox so they stop blocking the ones behind them. */
  deadLetter(rows: readonly OutboxRow[], httpStatus: number | null, detail: string): void {
    const now = Date.now();
    this.db.transaction(() => {
      for (const row of rows) {
        this.q.insertDead.run(
          row.event.event_id,
          row.event.call_id,
          JSON.stringify(row.event),
          httpStatus,
          detail,
          now,
        );
        this.q.deleteOutbox.run(row.id);
      }
    })();
  }

  deadLetterCount(): number {
    return this.q.deadCount.get()!.n;
  }

  /** Records a command jti; false when it was used before (a replay), across restarts too. */
  claimJti(jti: string, expiresAt: number): boolean {
    return this.q.claimJti.run(jti, expiresAt).changes === 1;
  }

  /**
   * Remembers a hang-up for a call this sidecar has not seen: its originate may still be on its way
   * (the API sent both at nearly the same time), and must then not ring.
   */
  rememberHangupBeforeOriginate(callId: string, expiresAt: number): void {
    this.q.rememberHangup.run(callId, expiresAt);
  }

  wasHungUpBeforeOriginate(callId: string, now: number): boolean {
    return this.q.hungUp.get(callId, now)!.n > 0;
  }

  /** Drops jtis past their expiry (a token that old fails verification anyway) and old finished calls. */
  prune(now: number, finishedBefore: number): void {
    this.q.pruneJti.run(now);
    this.q.pruneHangups.run(now);
    this.q.pruneFinished.run(finishedBefore);
  }

  close(): void {
    this.db.close();
  }
}

function fromRecord(record: CallRecord): CallRow {
  return {
    callId: record.call_id,
    state: record.state,
    accepted: record.accepted === 1,
    seq: record.seq,
    track: JSON.parse(record.track) as CallTrack,
    command: JSON.parse(record.command) as OriginateCommand,
    queueSeq: record.queue_seq,
    flow: record.flow ? (JSON.parse(record.flow) as FlowState) : null,
    createdAt: record.created_at,
    updatedAt: record.updated_at,
  };
}

function toRecord(call: CallRow): Record<string, string | number | null> {
  return {
    call_id: call.callId,
    state: call.state,
    status: call.track.status,
    accepted: call.accepted ? 1 : 0,
    seq: call.seq,
    track: JSON.stringify(call.track),
    command: JSON.stringify(call.command),
    queue_seq: call.queueSeq,
    flow: call.flow ? JSON.stringify(call.flow) : null,
    created_at: call.createdAt,
    updated_at: call.updatedAt,
  };
}
