import { describe, expect, test } from 'bun:test';
import {
  bcryptCost,
  createBcryptTsHasher,
  isHasherBusy,
  limitHasher,
  type PasswordHasher,
  syntheticBcryptDigest,
} from './passwords.ts';

function gatedHasher() {
  const gates: Array<() => void> = [];
  let active = 0;
  let peak = 0;
  const hasher: PasswordHasher = {
    cost: 12,
    async hash(p) {
      active++;
      peak = Math.max(peak, active);
      await new Promise<void>((r) => gates.push(r));
      active--;
      return `h:${p}`;
    },
    async verify() {
      return true;
    },
  };
  return { hasher, gates, peak: () => peak };
}

describe('limitHasher', () => {
  test('runs at most `concurrency` at once, queues up to `maxWaiting`, refuses the rest at once', async () => {
    const g = gatedHasher();
    const limited = limitHasher(g.hasher, { concurrency: 2, maxWaiting: 3 });
    const results = Array.from({ length: 7 }, (_, i) =>
      limited.hash(String(i)).then(
        (v) => v,
        (e) => e,
      ),
    );
    await Bun.sleep(5);
    expect(g.gates).toHaveLength(2);
    const refused = await Promise.race([Promise.all(results.slice(5)), Bun.sleep(50).then(() => 'pending')]);
    expect(Array.isArray(refused) && refused.every(isHasherBusy)).toBe(true);
    while (g.gates.length > 0 || g.peak() < 2) {
      g.gates.shift()?.();
      await Bun.sleep(1);
    }
    for (let i = 0; i < 10; i++) {
      g.gates.shift()?.();
      await Bun.sleep(1);
    }
    expect(await Promise.all(results.slice(0, 5))).toEqual(['h:0', 'h:1', 'h:2', 'h:3', 'h:4']);
    expect(g.peak()).toBe(2);
  });
});

/** A hasher whose checks wait until released, recording which started (by password) in order. */
function gatedVerifier() {
  const gates: Array<() => void> = [];
  const started: string[] = [];
  const hasher: PasswordHasher = {
    cost: 12,
    async hash(p) {
      return `h:${p}`;
    },
    async verify(password) {
      started.push(password);
      await new Promise<void>((r) => gates.push(r));
      return true;
    },
  };
  return { hasher, gates, started };
}

/** Settles to 'ok' or 'busy' (the hasher refused the check). */
const outcome = (p: Promise<boolean>) =>
  p.then(
    () => 'ok',
    (e) => (isHasherBusy(e) ? 'busy' : `error: ${e}`),
  );

describe('limitHasher, shared fairly among claimants', () => {
  test('one claimant holds at most its share; another still gets in line', async () => {
    const g = gatedVerifier();
    const limited = limitHasher(g.hasher, { concurrency: 1, maxWaiting: 8, maxPerClaimant: 3 });
    const flood = Array.from({ length: 6 }, (_, i) =>
      outcome(limited.verify(`flood-${i}`, 'd', ['user:victim', 'addr:a'])),
    );
    const other = outcome(limited.verify('admin', 'd', ['user:admin', 'addr:b']));
    expect(await Promise.all(flood.slice(3))).toEqual(['busy', 'busy', 'busy']);
    while (g.started.length < 4) {
      g.gates.shift()?.();
      await Bun.sleep(1);
    }
    for (const release of g.gates.splice(0)) release();
    expect(await Promise.all([...flood.slice(0, 3), other])).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  test('past its share, an address still lets another account wait beside the flood it is running', async () => {
    const g = gatedVerifier();
    const limited = limitHasher(g.hasher, { concurrency: 2, maxWaiting: 8, maxPerClaimant: 2 });
    const flood = Array.from({ length: 4 }, (_, i) =>
      outcome(limited.verify(`flood-${i}`, 'd', ['user:victim', 'addr:a'])),
    );
    const colleague = outcome(limited.verify('colleague', 'd', ['user:colleague', 'addr:a']));
    // The address is at its share too, but the flood's account holds more than the colleague's.
    expect(await Promise.all(flood.slice(2))).toEqual(['busy', 'busy']);
    expect(g.started).toEqual(['flood-0', 'flood-1']);
    g.gates.shift()!();
    await Bun.sleep(5);
    expect(g.started).toEqual(['flood-0', 'flood-1', 'colleague']);
    for (const release of g.gates.splice(0)) release();
    expect(await colleague).toBe('ok');
  });

  test('a full queue: a newcomer takes the place of the latest check of the heaviest claimant', async () => {
    const g = gatedVerifier();
    const limited = limitHasher(g.hasher, { concurrency: 1, maxWaiting: 4, maxPerClaimant: 100 });
    const flood = Array.from({ length: 5 }, (_, i) =>
      outcome(limited.verify(`flood-${i}`, 'd', ['user:victim', 'addr:a'])),
    );
    // Full: one running, four waiting. A check from elsewhere displaces the flood's latest.
    const admin = outcome(limited.verify('admin', 'd', ['user:admin', 'addr:b']));
    expect(await flood[4]).toBe('busy');
    // Another from elsewhere, its claimants as light: the flood still holds more, so it displaces again.
    const second = outcome(limited.verify('second', 'd', ['user:second', 'addr:c']));
    expect(await flood[3]).toBe('busy');
    // A check with no claimants (a hash for a new user) is not refused either while the flood holds most.
    const created = limited.hash('new user').then(
      () => 'ok',
      () => 'busy',
    );
    expect(await flood[2]).toBe('busy');
    // What is left runs: one check for each of the four claimants, in the order they came.
    while (g.started.length < 4) {
      g.gates.shift()?.();
      await Bun.sleep(1);
    }
    for (const release of g.gates.splice(0)) release();
    expect(g.started).toEqual(['flood-0', 'flood-1', 'admin', 'second']);
    expect(await Promise.all([admin, second, created, flood[0], flood[1]])).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
    ]);
  });

  test('a freed hashing slot goes to the waiting check whose claimants hold the least', async () => {
    const g = gatedVerifier();
    const limited = limitHasher(g.hasher, { concurrency: 1, maxWaiting: 8, maxPerClaimant: 100 });
    const flood = Array.from({ length: 4 }, (_, i) =>
      outcome(limited.verify(`flood-${i}`, 'd', ['user:victim', 'addr:a'])),
    );
    const admin = outcome(limited.verify('admin', 'd', ['user:admin', 'addr:b']));
    while (g.started.length < 5) {
      g.gates.shift()?.();
      await Bun.sleep(1);
    }
    for (const release of g.gates.splice(0)) release();
    expect(g.started).toEqual(['flood-0', 'admin', 'flood-1', 'flood-2', 'flood-3']);
    expect(await Promise.all([admin, ...flood])).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  test('checks of equal claimants queue in order and are refused when the queue is full', async () => {
    const g = gatedVerifier();
    const limited = limitHasher(g.hasher, { concurrency: 1, maxWaiting: 2 });
    const checks = ['a', 'b', 'c', 'd'].map((name) => outcome(limited.verify(name, 'd', [`user:${name}`])));
    expect(await checks[3]).toBe('busy');
    while (g.started.length < 3) {
      g.gates.shift()?.();
      await Bun.sleep(1);
    }
    for (const release of g.gates.splice(0)) release();
    expect(g.started).toEqual(['a', 'b', 'c']);
    expect(await Promise.all(checks.slice(0, 3))).toEqual(['ok', 'ok', 'ok']);
  });
});

describe('bcrypt-ts hasher (Workers)', () => {
  test('makes bcrypt hashes at its cost that Bun.password accepts, and the reverse', async () => {
    const portable = createBcryptTsHasher(4);
    const digest = await portable.hash('correct horse');
    expect(bcryptCost(digest)).toBe(4);
    expect(await portable.verify('correct horse', digest)).toBe(true);
    expect(await portable.verify('wrong horse', digest)).toBe(false);
    expect(await Bun.password.verify('correct horse', digest, 'bcrypt')).toBe(true);
    const native = await Bun.password.hash('correct horse', { algorithm: 'bcrypt', cost: 4 });
    expect(await portable.verify('correct horse', native)).toBe(true);
    expect(await portable.verify('x', 'not a bcrypt hash')).toBe(false);
  });
});

describe('syntheticBcryptDigest', () => {
  test('is a bcrypt digest at the cost asked for, different every time, that no password matches', async () => {
    const digest = syntheticBcryptDigest(4);
    expect(digest).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{53}$/);
    expect(bcryptCost(digest)).toBe(4);
    expect(bcryptCost(syntheticBcryptDigest(12))).toBe(12);
    expect(syntheticBcryptDigest(4)).not.toBe(digest);
    const hasher = createBcryptTsHasher(4);
    for (const password of ['', 'password', digest])
      expect(await hasher.verify(password, digest)).toBe(false);
  });
});
