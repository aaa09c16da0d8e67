import { afterAll, beforeAll, describe, expect } from 'bun:test';
import type { CallEventInput } from '../../api/channel/index.ts';
import { readSse, type SseFrame } from '../harness/sse.ts';
import {
  expectProblem,
  MODES,
  type Mode,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ env: { SSE_HEARTBEAT_MS: '200', SSE_POLL_MS: '50' } });
}, 60_000);
afterAll(() => stack.stop());

interface StreamEvent {
  sequence: number;
  call_id: string;
  type: string;
  status: string;
  id: string;
}

const data = (f: SseFrame) => JSON.parse(f.data!) as StreamEvent;

async function place(user: TestUser, mode: Mode = 'http'): Promise<string> {
  const res = await stack.request(mode, '/api/v2/calls', {
    token: user.token,
    json: { phone_number: '5551234000' },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { call_id: string }).call_id;
}

let seq = 100;
const ev = (
  callId: string,
  type: CallEventInput['type'],
  status: CallEventInput['status'],
): CallEventInput => ({
  event_id: `${callId}:${type}`,
  call_id: callId,
  seq: ++seq,
  type,
  status,
  occurred_at: new Date().toISOString(),
});

async function finish(callId: string) {
  const res = await stack.sidecar.sendEvents(stack.api.url, [
    ev(callId, 'ringing', 'ringing'),
    ev(callId, 'answered', 'answered'),
    { ...ev(callId, 'ended', 'completed'), reason: 'normal', hangup_cause: 16 },
  ]);
  expect(res.status).toBe(200);
}

function open(mode: Mode, token: string, options: { query?: string; lastEventId?: string } = {}) {
  return stack.request(mode, `/api/v2/events${options.query ?? ''}`, {
    token,
    headers: options.lastEventId ? { 'Last-Event-ID': options.lastEventId } : {},
  });
}

for (const mode of MODES) {
  describe(`GET /api/v2/events (${mode})`, () => {
    test("streams the caller's call events live, in order, with resumable ids", async () => {
      const op = await stack.user('operator');
      const res = await open(mode, op.token);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toStartWith('text/event-stream');
      const sse = readSse(res);
      const ready = await sse.next();
      expect(ready).toMatchObject({ event: 'ready', retry: 2000 });
      expect(JSON.parse(ready!.data!)).toMatchObject({ resumed: false });
      const id = await place(op);
      await finish(id);
      const frames = await sse.events(5);
      expect(frames.map((f) => [data(f).type, data(f).status])).toEqual([
        ['created', 'pending'],
        ['dialing', 'dialing'],
        ['ringing', 'ringing'],
        ['answered', 'answered'],
        ['ended', 'completed'],
      ]);
      expect(frames.every((f) => f.event === 'call' && data(f).call_id === id && f.id === data(f).id)).toBe(
        true,
      );
      const ids = frames.map((f) => Number(f.id));
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect(frames.map((f) => data(f).sequence)).toEqual([1, 2, 3, 4, 5]);
      sse.close();
    });

    test('Last-Event-ID resumes with no gap and no duplicate', async () => {
      const op = await stack.user('operator');
      const sse = readSse(await open(mode, op.token));
      await sse.next();
      const first = await place(op);
      const got = await sse.events(2);
      sse.close();
      const resumeAfter = got.at(-1)!.id!;
      // Meanwhile, while disconnected:
      await finish(first);
      const second = await place(op);
      const resumed = readSse(await open(mode, op.token, { lastEventId: resumeAfter }));
      await resumed.next();
      const rest = await resumed.events(5);
      expect(rest.map((f) => [data(f).call_id, data(f).type])).toEqual([
        [first, 'ringing'],
        [first, 'answered'],
        [first, 'ended'],
        [second, 'created'],
        [second, 'dialing'],
      ]);
      const all = [...got, ...rest].map((f) => f.id);
      expect(new Set(all).size).toBe(all.length);
      // Live events keep coming after the catch-up.
      await finish(second);
      expect((await resumed.events(3)).map((f) => data(f).type)).toEqual(['ringing', 'answered', 'ended']);
      resumed.close();
    });

    test('filters by call id and by status; another user’s calls are never streamed', async () => {
      const a = await stack.user('operator');
      const b = await stack.user('operator');
      const admin = await stack.user('admin');
      const aCall = await place(a);
      const aOther = await place(a);
      const byCall = readSse(await open(mode, a.token, { query: `?call_id=${aCall}&last_event_id=0` }));
      const byStatus = readSse(
        await open(mode, a.token, { query: '?status=completed,busy&last_event_id=0' }),
      );
      const spy = readSse(await open(mode, b.token, { query: `?call_id=${aCall}&last_event_id=0` }));
      const spyAll = readSse(await open(mode, b.token, { query: '?last_event_id=0' }));
      const adminAll = readSse(await open(mode, admin.token, { query: `?call_id=${aCall}&last_event_id=0` }));
      await finish(aCall);
      await finish(aOther);
      expect((await byCall.events(5)).every((f) => data(f).call_id === aCall)).toBe(true);
      const completed = await byStatus.events(2);
      expect(completed.map((f) => [data(f).call_id, data(f).status])).toEqual([
        [aCall, 'completed'],
        [aOther, 'completed'],
      ]);
      expect((await adminAll.events(5)).map((f) => data(f).call_id)).toEqual(Array(5).fill(aCall));
      // B's streams stay silent apart from heartbeats.
      await Bun.sleep(400);
      expect([...spy.buffered(), ...spyAll.buffered()].filter((f) => f.event === 'call')).toEqual([]);
      for (const s of [byCall, byStatus, spy, spyAll, adminAll]) s.close();
    });

    test('heartbeats keep the connection alive', async () => {
      const op = await stack.user('operator');
      const sse = readSse(await open(mode, op.token));
      await sse.next();
      const beat = await sse.next(2000);
      expect(beat?.comment).toBe('keep-alive');
      sse.close();
    });

    test('a revoked token ends the stream', async () => {
      const op = await stack.user('operator');
      const sse = readSse(await open(mode, op.token));
      await sse.next();
      await stack.request(mode, '/api/v2/token/revoke', { method: 'POST', token: op.token });
      let frame: SseFrame | null;
      do frame = await sse.next(3000);
      while (frame);
      expect(frame).toBeNull();
    });

    test('bad filters and cursors are 422; no token is 401', async () => {
      const op = await stack.user('operator');
      for (const q of ['?call_id=nope', '?status=exploded', '?last_event_id=abc', '?last_event_id=-1']) {
        await expectProblem(await open(mode, op.token, { query: q }), 422, 'validation_error');
      }
      await expectProblem(await open(mode, op.token, { lastEventId: 'x' }), 422, 'validation_error');
      await expectProblem(await stack.request(mode, '/api/v2/events'), 401, 'invalid_token');
    });
  });
}

describe('a slow client', () => {
  test('that stops reading is dropped instead of buffering without end, and can resume', async () => {
    const small = await startTestStack({
      env: { SSE_MAX_BUFFERED: '10', SSE_POLL_MS: '20', SSE_HEARTBEAT_MS: '60000' },
    });
    try {
      const op = await small.user('operator');
      // In-process the response body is a stream nobody reads: writes stop being taken at once.
      const res = await small.request('in-process', '/api/v2/events?last_event_id=0', { token: op.token });
      expect(res.status).toBe(200);
      await Bun.sleep(50);
      expect(small.api.services.live.size).toBe(1);
      for (let i = 0; i < 8; i++) {
        const placed = await small.request('http', '/api/v2/calls', {
          token: op.token,
          json: { phone_number: '5551234000' },
        });
        expect(placed.status).toBe(200);
      }
      const deadline = Date.now() + 5000;
      while (small.api.services.live.size > 0 && Date.now() < deadline) await Bun.sleep(20);
      expect(small.api.services.live.size).toBe(0);
      await res.body?.cancel();
      // Resuming from the start delivers everything, from the database.
      const again = readSse(
        await small.request('http', '/api/v2/events?last_event_id=0', { token: op.token }),
      );
      await again.next();
      const frames = await again.events(16);
      expect(new Set(frames.map((f) => f.id)).size).toBe(16);
      again.close();
    } finally {
      await small.stop();
    }
  });
});

describe('across an API restart', () => {
  test('a client resumes on a new API instance with no gap and no duplicate', async () => {
    const first = await startTestStack({ env: { SSE_POLL_MS: '20' } });
    const op = await first.user('operator');
    const placed = await first.request('http', '/api/v2/calls', {
      token: op.token,
      json: { phone_number: '5551234000' },
    });
    const callId = ((await placed.json()) as { call_id: string }).call_id;
    const sse = readSse(await first.request('http', '/api/v2/events?last_event_id=0', { token: op.token }));
    await sse.next();
    const before = await sse.events(2);
    sse.close();
    const database = first.database;
    await first.api.stop();
    await first.sidecar.stop();
    const second = await startTestStack({ database, env: { SSE_POLL_MS: '20' } });
    try {
      // The old token still verifies only if the key is the same; log in again on the new instance.
      const login = await second.login(op.username, op.password);
      const token = ((await login.json()) as { access_token: string }).access_token;
      await second.request('http', `/api/v2/calls/${callId}/hangup`, { method: 'POST', token });
      const resumed = readSse(
        await second.request('http', '/api/v2/events', {
          token,
          headers: { 'Last-Event-ID': before.at(-1)!.id! },
        }),
      );
      await resumed.next();
      const after = await resumed.events(1);
      expect(data(after[0]!)).toMatchObject({ call_id: callId, type: 'hangup_requested', sequence: 3 });
      expect(Number(after[0]!.id)).toBeGreaterThan(Number(before.at(-1)!.id));
      resumed.close();
    } finally {
      await second.stop();
      await database.close();
    }
  });
});
