import type { PasswordHasher } from '../../api/auth/passwords.ts';

/**
 * A password hasher for tests that counts the checks made against chosen digests and can hold them
 * until released, so that a burst of logins is in flight at once however fast the machine is. Given to
 * the API as its inner hasher (`startTestStack({ passwordHasher })`), it sits inside the API's limiter:
 * a held check occupies a hashing slot as a slow bcrypt would.
 */
export function heldHasher(inner: PasswordHasher) {
  const watched = new Map<string, { started: number; held: boolean }>();
  const waiting: Array<() => void> = [];
  const hasher: PasswordHasher = {
    cost: inner.cost,
    hash: (password) => inner.hash(password),
    async verify(...args: Parameters<PasswordHasher['verify']>) {
      const entry = watched.get(args[1]);
      if (entry) {
        entry.started++;
        if (entry.held) await new Promise<void>((resolve) => waiting.push(resolve));
      }
      return inner.verify(...args);
    },
  };
  return {
    hasher,
    /** Counts checks against `digest` from now on, holding each until `release()` when `hold` is set. */
    watch(digest: string, options: { hold: boolean }) {
      watched.set(digest, { started: 0, held: options.hold });
    },
    /** Checks against `digest` that reached the hasher (held ones included). */
    started(digest: string): number {
      return watched.get(digest)?.started ?? 0;
    },
    /** Checks waiting to be released. */
    get holding(): number {
      return waiting.length;
    },
    /** Lets every held check run, and stops holding new ones. */
    release() {
      for (const entry of watched.values()) entry.held = false;
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

/** Resolves once `condition` holds, checking every few milliseconds; fails after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(5);
  }
}
