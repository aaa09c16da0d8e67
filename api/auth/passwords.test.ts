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
