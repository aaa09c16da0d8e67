import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { getCall } from '../../db/queries/calls.ts';
import { expectProblem, MODES, startTestStack, type TestStack, test } from '../harness/stack.ts';

/**
 * Two sidecars (SIDECARS) behind the API, each a signed double: a sidecar whose ARI breaker refuses
 * (`unavailable`) is passed over for the other and shown so; a named one is used alone; an unknown
 * name is a 422; a hang-up goes to the sidecar that has the call; with both refusing, a 503 and a
 * call that ends failed.
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ moreSidecars: ['spare'] });
}, 120_000);
afterAll(() => stack?.stop());

const primary = () => stack.sidecars.get('test-sidecar')!;
const spare = () => stack.sidecars.get('spare')!;

function reset() {
  for (const double of stack.sidecars.values()) double.reset();
}

async function storedOn(callId: string): Promise<string | null> {
  return (await getCall(stack.database.db, callId))?.sidecarId ?? null;
}

interface Readiness {
  status: string;
  sidecars: Array<{ id: string; state: string; load: number | null; capacity: number }>;
}

for (const mode of MODES) {
  describe(`a fleet of two sidecars (${mode})`, () => {
    test('a sidecar whose breaker refuses is passed over: every call lands on the other, once', async () => {
      reset();
      const op = await stack.user('operator');
      const place = async (body: Record<string, unknown>) => {
        const res = await stack.request(mode, '/api/v2/calls', { token: op.token, json: body });
        expect(res.status).toBe(200);
        return ((await res.json()) as { call_id: string }).call_id;
      };
      // Both up (readiness asks each), and spare busier: the primary is the first choice.
      const before = (await (await stack.request(mode, '/readiness')).json()) as Readiness;
      expect(before.sidecars.map((s) => [s.id, s.state])).toEqual([
        ['test-sidecar', 'up'],
        ['spare', 'up'],
      ]);
      const busy = await place({ phone_number: '5551234000', sidecar_id: 'spare' });
      primary().originateBehaviour = 'unavailable';
      primary().breaker = 'open';
      try {
        const first = await place({ phone_number: '5551234000' });
        expect(primary().originates.map((o) => o.body.call_id)).toEqual([first]);
        // Then it is breaker_open, and the rest go straight to spare.
        const ids = [
          first,
          ...(await Promise.all(Array.from({ length: 6 }, () => place({ phone_number: '5551234000' })))),
        ];
        for (const id of ids) expect(await storedOn(id)).toBe('spare');
        expect(
          spare()
            .originates.map((o) => o.body.call_id)
            .sort(),
        ).toEqual([busy, ...ids].sort());
        expect(primary().originates).toHaveLength(1);
        const ready = (await (await stack.request(mode, '/readiness')).json()) as Readiness;
        expect(ready.status).toBe('ready');
        expect(ready.sidecars.map((s) => [s.id, s.state])).toEqual([
          ['test-sidecar', 'breaker_open'],
          ['spare', 'up'],
        ]);
        expect(ready.sidecars.find((s) => s.id === 'spare')!.load).toBeGreaterThanOrEqual(8);
      } finally {
        reset();
      }
    });

    test('a named sidecar takes the call alone, and its hang-up goes there', async () => {
      reset();
      const op = await stack.user('operator');
      const res = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '5551234002', sidecar_id: 'spare' },
      });
      expect(res.status).toBe(200);
      const id = ((await res.json()) as { call_id: string }).call_id;
      expect(await storedOn(id)).toBe('spare');
      expect(primary().originates).toHaveLength(0);
      const hangup = await stack.request(mode, `/api/v2/calls/${id}/hangup`, {
        method: 'POST',
        token: op.token,
      });
      expect(hangup.status).toBe(202);
      expect(spare().hangups.map((h) => h.body.call_id)).toEqual([id]);
      expect(primary().hangups).toHaveLength(0);
    });

    test('an unknown sidecar_id is a 422 naming the field; nothing is stored or sent', async () => {
      reset();
      const op = await stack.user('operator');
      const res = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '5551234000', sidecar_id: 'north' },
      });
      const problem = await expectProblem(res, 422, 'validation_error');
      expect(problem.detail).toBe('body.sidecar_id: "north" is not a configured sidecar');
      const list = (await (await stack.request(mode, '/api/v2/calls', { token: op.token })).json()) as {
        items: unknown[];
      };
      expect(list.items).toHaveLength(0);
      expect(primary().originates.length + spare().originates.length).toBe(0);
    });

    test('both refusing: a 503 in plain words, and the call ends failed', async () => {
      reset();
      const op = await stack.user('operator');
      for (const double of stack.sidecars.values()) double.originateBehaviour = 'unavailable';
      try {
        const res = await stack.request(mode, '/api/v2/calls', {
          token: op.token,
          json: { phone_number: '5551234000' },
        });
        await expectProblem(res, 503, 'pbx_unavailable');
        expect(res.headers.get('retry-after')).toBeTruthy();
        const list = (await (await stack.request(mode, '/api/v2/calls', { token: op.token })).json()) as {
          items: Array<{ status: string; reason: string }>;
        };
        expect(list.items.map((c) => [c.status, c.reason])).toEqual([['failed', 'pbx_unreachable']]);
        // Each was asked once, and neither dialled.
        expect([primary().originates.length, spare().originates.length]).toEqual([1, 1]);
      } finally {
        reset();
      }
    });
  });
}
