import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OriginateCommand } from '../api/shared/contract/index.ts';
import { newTrack, onAccepted } from './mapping.ts';
import { type CallRow, Store } from './store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempPath() {
  const dir = mkdtempSync(join(tmpdir(), 'sidecar-store-'));
  dirs.push(dir);
  return join(dir, 'sidecar-test.sqlite');
}

const command = (callId: string): OriginateCommand => ({
  call_id: callId,
  phone_number: '5551234000',
  context: 'outbound-ivr',
  extension: 's',
  priority: 1,
  timeout_ms: 30_000,
  caller_id: null,
  variables: {},
  requested_at: new Date().toISOString(),
});

function call(callId: string, state: CallRow['state'] = 'originating'): CallRow {
  return {
    callId,
    state,
    accepted: false,
    seq: 0,
    track: newTrack(),
    command: command(callId),
    queueSeq: null,
    flow: null,
    createdAt: Date.now(),
    updatedAt: Date.now(),
  };
}

describe('Store', () => {
  test('a call change and its events are written together and survive reopening', () => {
    const path = tempPath();
    const store = new Store(path, 'sc1');
    const row = call(crypto.randomUUID());
    const step = onAccepted(row.track, 'Local/1@x-1;1', new Date().toISOString());
    row.track = step.track;
    row.state = 'live';
    row.accepted = true;
    const events = store.commit(row, step.events);
    expect(events.map((e) => [e.seq, e.type, e.event_id])).toEqual([[1, 'dialing', `sc1:${row.callId}:1`]]);
    store.close();

    const again = new Store(path, 'sc1');
    expect(again.getCall(row.callId)).toMatchObject({ state: 'live', accepted: true, seq: 1 });
    expect(again.getCall(row.callId)!.track.status).toBe('dialing');
    expect(again.peekOutbox(10).map((r) => r.event.event_id)).toEqual([`sc1:${row.callId}:1`]);
    expect(again.activeCalls().length).toBe(1);
    again.close();
  });

  test('the outbox keeps order, deletes on ack and dead-letters refused rows', () => {
    const store = new Store(tempPath(), 'sc1');
    const a = call(crypto.randomUUID());
    const b = call(crypto.randomUUID());
    const at = new Date().toISOString();
    const ev = (type: 'dialing' | 'ringing') => ({
      type,
      status: type,
      occurred_at: at,
      reason: null,
      hangup_cause: null,
      hangup_cause_txt: null,
      dial_status: null,
      channel: null,
    });
    store.commit(a, [ev('dialing')]);
    store.commit(b, [ev('dialing')]);
    store.commit(a, [ev('ringing')]);
    const rows = store.peekOutbox(10);
    expect(rows.map((r) => [r.event.call_id, r.event.seq])).toEqual([
      [a.callId, 1],
      [b.callId, 1],
      [a.callId, 2],
    ]);
    store.deleteOutbox([rows[0]!.id]);
    store.deadLetter([rows[1]!], 422, 'refused');
    expect(store.outboxDepth()).toBe(1);
    expect(store.deadLetterCount()).toBe(1);
    store.close();
  });

  test('a call’s events keep their times in order: one stamped before the event written ahead of it takes that one’s time', () => {
    const store = new Store(tempPath(), 'sc1');
    const row = call(crypto.randomUUID());
    const ev = (type: 'answered' | 'ended', occurred_at: string) => ({
      type,
      status: type === 'ended' ? ('completed' as const) : ('answered' as const),
      occurred_at,
      reason: null,
      hangup_cause: null,
      hangup_cause_txt: null,
      dial_status: null,
      channel: null,
    });
    const flowEnded = {
      type: 'flow_ended' as const,
      status: 'answered' as const,
      occurred_at: '2026-01-01T00:00:02.000Z',
      reason: null,
      key: 'end',
      flow: {
        run: 1,
        segment: 0,
        step: 0,
        step_id: null,
        verb: 'gather' as const,
        outcome: 'finished' as const,
      },
    };
    store.commit(row, [ev('answered', '2026-01-01T00:00:01.000Z')]);
    store.commit(row, [flowEnded]);
    // ARI's clock says the channel ended before the flow's end was written here.
    store.commit(row, [ev('ended', '2026-01-01T00:00:01.950Z')]);
    expect(store.peekOutbox(10).map((r) => [r.event.type, r.event.occurred_at])).toEqual([
      ['answered', '2026-01-01T00:00:01.000Z'],
      ['flow_ended', '2026-01-01T00:00:02.000Z'],
      ['ended', '2026-01-01T00:00:02.000Z'],
    ]);
    store.close();
  });

  test('a jti is single-use across restarts until it expires', () => {
    const path = tempPath();
    const store = new Store(path, 'sc1');
    const expires = Date.now() + 60_000;
    expect(store.claimJti('j1', expires)).toBe(true);
    expect(store.claimJti('j1', expires)).toBe(false);
    store.close();
    const again = new Store(path, 'sc1');
    expect(again.claimJti('j1', expires)).toBe(false);
    again.prune(expires + 1, 0);
    expect(again.claimJti('j1', expires + 60_000)).toBe(true);
    again.close();
  });

  test('queue positions follow queue order', () => {
    const store = new Store(tempPath(), 'sc1');
    const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const id of ids) {
      const row = call(id, 'queued');
      row.queueSeq = store.nextQueueSeq();
      store.commit(row, []);
    }
    expect(store.queueDepth()).toBe(3);
    const second = store.getCall(ids[1]!)!;
    expect(store.queuePosition(second.queueSeq!)).toBe(2);
    const first = store.getCall(ids[0]!)!;
    first.queueSeq = null;
    first.state = 'originating';
    store.commit(first, []);
    expect(store.queuePosition(second.queueSeq!)).toBe(1);
    store.forget(ids[2]!);
    expect(store.queueDepth()).toBe(1);
    store.close();
  });
});
