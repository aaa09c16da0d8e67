import { afterAll, beforeAll, describe, expect } from 'bun:test';
import fc from 'fast-check';
import { MODES, type Mode, startTestStack, TARGET, test } from '../harness/stack.ts';
import { type Fuzz, IN_PROCESS_SHARE, OPERATIONS, RUNS, SEED, setUpFuzz } from './harness.ts';

/**
 * Hostile input generated from the OpenAPI document: for every operation, requests valid by the
 * document and requests broken in every part a client controls, with a token of each role, every
 * kind of bad token and none. For each answer: no 5xx; errors are problem+json with the request's
 * id; successes match the documented schema; nothing reaches the sidecar for an invalid request;
 * no call row for a refused originate; no stack trace, SQL, parser message or secret in the body.
 */

const groups = OPERATIONS.length + 1;
const perOperation = Math.max(4, Math.round(RUNS / groups));
const perOperationInProcess = Math.max(2, Math.round(perOperation * IN_PROCESS_SHARE));
// Room for each request and for shrinking a failure to its smallest form.
const timeout = 60_000 + perOperation * 250;

console.log(
  `hostile input: seed ${SEED}, ${perOperation * groups} requests over HTTP` +
    (MODES.includes('in-process') ? ` and ${perOperationInProcess * groups} in-process` : '') +
    ` across ${OPERATIONS.length} operations; replay with FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}`,
);

let fuzz: Fuzz;

beforeAll(async () => {
  const stack = await startTestStack({
    // Webhook targets the fuzzer invents resolve to loopback, which the API refuses to call.
    ...(TARGET === 'bun' ? { resolveHost: async () => [{ address: '127.0.0.1', family: 4 }] } : {}),
  });
  fuzz = await setUpFuzz(stack);
}, 120_000);

afterAll(async () => {
  if (!fuzz) return;
  const statuses = new Map<number, number>();
  let requests = 0;
  let valid = 0;
  let invalid = 0;
  for (const t of fuzz.tallies.values()) {
    requests += t.requests;
    valid += t.valid;
    invalid += t.invalid;
    for (const [s, n] of t.byStatus) statuses.set(s, (statuses.get(s) ?? 0) + n);
  }
  const byStatus = [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
  console.log(
    `hostile input: ${requests} requests (${valid} valid, ${invalid} invalid by the document): ${byStatus}`,
  );
  for (const [op, t] of fuzz.tallies) {
    if (t.lenientReads.length > 0)
      console.log(`  lenient reads of ${op}: ${t.lenientReads.slice(0, 3).join(' | ')}`);
  }
  await fuzz.stack.stop();
});

function property(
  mode: Mode,
  index: number,
  arb: fc.Arbitrary<Parameters<Fuzz['exercise']>[0]>,
  runs: number,
) {
  return fc.assert(
    fc.asyncProperty(mode === 'http' ? arb : arb.filter((rc) => rc.transport === 'fetch'), (rc) =>
      fuzz.exercise(rc, mode),
    ),
    { seed: SEED + index + (mode === 'http' ? 0 : 1000), numRuns: runs },
  );
}

for (const mode of MODES) {
  const runs = mode === 'http' ? perOperation : perOperationInProcess;
  describe(`hostile input (${mode})`, () => {
    OPERATIONS.forEach((op, i) => {
      test(op.id, () => property(mode, i, fuzz.generator.forOperation(op), runs), timeout);
    });
    test(
      'paths and methods the document does not have',
      () => property(mode, OPERATIONS.length, fuzz.generator.undocumented(), runs),
      timeout,
    );
  });
}

describe('hostile input reached everything', () => {
  test('every operation answered both valid and invalid requests, with a success and a refusal', () => {
    const missing: string[] = [];
    for (const op of OPERATIONS) {
      const t = fuzz.tallies.get(op.id);
      const statuses = [...(t?.byStatus.keys() ?? [])];
      if (!t || t.requests < perOperation / 2) missing.push(`${op.id}: ${t?.requests ?? 0} requests`);
      else if (t.valid === 0 || t.invalid === 0)
        missing.push(`${op.id}: ${t.valid} valid, ${t.invalid} invalid`);
      else if (!statuses.some((s) => s < 300))
        missing.push(`${op.id}: no success among ${statuses.join(', ')}`);
      else if (!statuses.some((s) => s >= 400 && s < 500)) missing.push(`${op.id}: no refusal`);
    }
    expect(missing).toEqual([]);
  });

  test('the refresh_token grant answered a success', () => {
    expect(fuzz.refreshed()).toBeGreaterThan(0);
  });
});
