import { compare, genSalt, hash } from 'bcrypt-ts';

/** Hashes and checks passwords with bcrypt. Implementations must not block other requests. */
export interface PasswordHasher {
  readonly cost: number;
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

/** bcrypt only reads 72 bytes; longer passwords are refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72;

/**
 * Portable bcrypt (bcrypt-ts) for runtimes without a native hasher (Workers). Its async form
 * yields between rounds, so one hash does not stall the isolate's other requests.
 */
export function createBcryptTsHasher(cost: number): PasswordHasher {
  return {
    cost,
    async hash(password) {
      return hash(password, await genSalt(cost));
    },
    async verify(password, digest) {
      if (!/^\$2[aby]\$\d\d\$/.test(digest)) return false;
      return compare(password, digest);
    },
  };
}

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A bcrypt digest of no password: a random salt and checksum at `cost`. Checking a password against it
 * costs a full bcrypt at that cost and never succeeds, so it can stand in for an unknown user's hash
 * without spending a hash to make it. bcrypt-ts checks it; Bun's native verifier wants the canonical
 * encoding of a real digest and refuses it.
 */
export function syntheticBcryptDigest(cost: number): string {
  const chars = Array.from(crypto.getRandomValues(new Uint8Array(53)), (b) => BCRYPT_ALPHABET[b & 63]);
  return `$2b$${String(cost).padStart(2, '0')}$${chars.join('')}`;
}

/** The cost factor a bcrypt hash was made with. */
export function bcryptCost(digest: string): number | null {
  const m = /^\$2[aby]\$(\d\d)\$/.exec(digest);
  return m ? Number(m[1]) : null;
}

/** Thrown when too many hashes are waiting: the caller should come back shortly. */
export class HasherBusyError extends Error {
  override name = 'HasherBusyError';
  readonly isHasherBusy = true;
}

export function isHasherBusy(error: unknown): error is HasherBusyError {
  return typeof error === 'object' && error !== null && 'isHasherBusy' in error;
}

/**
 * Bounds the CPU that password hashing may take. A bcrypt check at cost 12 costs about a quarter of
 * a core-second; left unbounded, a burst of logins takes every core and starves every other request.
 * At most `concurrency` hashes run at once and at most `maxWaiting` wait; beyond that the hasher
 * refuses at once (the API answers 503 with Retry-After) instead of queueing without end.
 */
export function limitHasher(
  inner: PasswordHasher,
  options: { concurrency: number; maxWaiting: number },
): PasswordHasher {
  let running = 0;
  const waiting: Array<() => void> = [];
  async function run<T>(task: () => Promise<T>): Promise<T> {
    if (running >= options.concurrency) {
      if (waiting.length >= options.maxWaiting) throw new HasherBusyError('too many password checks waiting');
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running++;
    }
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  }
  return {
    cost: inner.cost,
    hash: (password) => run(() => inner.hash(password)),
    verify: (password, digest) => run(() => inner.verify(password, digest)),
  };
}
