import { compare, genSalt, hash } from 'bcrypt-ts';

/** Hashes and checks passwords with bcrypt. Implementations must not block other requests. */
export interface PasswordHasher {
  readonly cost: number;
  hash(password: string): Promise<string>;
  /**
   * `claimants` name who a check is made for (a login's account name and client address): a limiter
   * shares its room fairly among them (limitHasher). A bare hasher ignores them.
   */
  verify(password: string, hash: string, claimants?: readonly string[]): Promise<boolean>;
}

/** bcrypt only reads 72 bytes; longer passwords are refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72;

/** bcrypt on Bun's worker threads: a hash at cost 12 takes ~250 ms but never blocks the event loop. */
export function createBunPasswordHasher(cost: number): PasswordHasher {
  return {
    cost,
    hash: (password) => Bun.password.hash(password, { algorithm: 'bcrypt', cost }),
    async verify(password, digest) {
      if (!/^\$2[aby]\$\d\d\$/.test(digest)) return false;
      return Bun.password.verify(password, digest, 'bcrypt');
    },
  };
}

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
 * Bounds the CPU that password hashing may take, and shares it fairly. A bcrypt check at cost 12 costs
 * about a quarter of a core-second; left unbounded, a burst of logins takes every core and starves every
 * other request. At most `concurrency` hashes run at once and at most `maxWaiting` wait; beyond that the
 * hasher refuses at once (the API answers 503 with Retry-After) instead of queueing without end.
 *
 * Checks that name their claimants (a login's account name and client address) share that room fairly:
 * - a claimant may hold `maxPerClaimant` places, running and waiting (by default a quarter of the room,
 *   at least one). Past that, a check gets a place only in the stead of a check of the same claimant
 *   whose other claimants hold more than its own do (plus one): a waiting one gives up its place (it is
 *   refused busy), a running one lets it wait beside it. So a flood against one account from one
 *   address holds its share, and another account's login from that same address still gets in line;
 * - when the queue is full, a newcomer takes the place of the latest waiting check whose claimants hold
 *   more than its own do (plus one), which is refused busy instead: one flood cannot fill the queue
 *   against logins from elsewhere;
 * - a freed hashing slot goes to the waiting check whose claimants hold the least, the oldest first.
 */
export function limitHasher(
  inner: PasswordHasher,
  options: { concurrency: number; maxWaiting: number; maxPerClaimant?: number },
): PasswordHasher {
  const share =
    options.maxPerClaimant ?? Math.max(1, Math.floor((options.concurrency + options.maxWaiting) / 4));
  interface Entry {
    claimants: readonly string[];
    /** Resolves when a waiting check may run; rejects when it gave its place up. Null: it ran at once. */
    queued: Promise<void> | null;
    start: () => void;
    refuse: (error: Error) => void;
  }
  const running = new Set<Entry>();
  const waiting: Entry[] = [];
  const held = new Map<string, number>();
  const load = (claimant: string) => held.get(claimant) ?? 0;
  const charge = (claimants: readonly string[], delta: number) => {
    for (const c of claimants) {
      const n = load(c) + delta;
      if (n > 0) held.set(c, n);
      else held.delete(c);
    }
  };
  /** The most places held by one of `of`'s claimants that `besides` does not share. */
  const heaviest = (of: readonly string[], besides: readonly string[] = []) =>
    Math.max(0, ...of.filter((c) => !besides.includes(c)).map(load));
  /** Whether `entry` is a check of every claimant in `of` whose other claimants hold more than the newcomer's. */
  const heavier = (entry: Entry, newcomer: readonly string[], of: readonly string[]) =>
    of.every((c) => entry.claimants.includes(c)) &&
    heaviest(entry.claimants, newcomer) > heaviest(newcomer, entry.claimants) + 1;

  /** The latest waiting check that the newcomer may take the place of, or -1. */
  function displaceable(newcomer: readonly string[], of: readonly string[]): number {
    let pick = -1;
    for (let i = waiting.length - 1; i >= 0; i--) {
      const entry = waiting[i]!;
      if (!heavier(entry, newcomer, of)) continue;
      if (pick < 0 || heaviest(entry.claimants, newcomer) > heaviest(waiting[pick]!.claimants, newcomer))
        pick = i;
    }
    return pick;
  }

  /** Takes a running place, or a waiting one (resolving once it runs); throws when there is none. */
  function admit(claimants: readonly string[]): Entry {
    let displaced = -1;
    const overShare = claimants.filter((c) => load(c) >= share);
    if (overShare.length > 0) {
      displaced = displaceable(claimants, overShare);
      const besideRunning = [...running].some((entry) => heavier(entry, claimants, overShare));
      if (displaced < 0 && !besideRunning)
        throw new HasherBusyError('too many password checks for one client');
    }
    if (displaced < 0 && running.size >= options.concurrency && waiting.length >= options.maxWaiting) {
      displaced = displaceable(claimants, []);
      if (displaced < 0) throw new HasherBusyError('too many password checks waiting');
    }
    if (displaced >= 0) {
      const [entry] = waiting.splice(displaced, 1);
      charge(entry!.claimants, -1);
      entry!.refuse(new HasherBusyError('gave its place to a client with fewer password checks'));
    }
    charge(claimants, 1);
    const entry: Entry = { claimants, start: () => {}, refuse: () => {}, queued: null };
    if (running.size < options.concurrency) {
      running.add(entry);
      return entry;
    }
    entry.queued = new Promise<void>((start, refuse) => {
      entry.start = start;
      entry.refuse = refuse;
    });
    waiting.push(entry);
    return entry;
  }

  /** The waiting check whose claimants hold the least, the oldest first. */
  function next(): Entry | undefined {
    let pick = -1;
    for (const [i, entry] of waiting.entries()) {
      if (pick < 0 || heaviest(entry.claimants) < heaviest(waiting[pick]!.claimants)) pick = i;
    }
    return pick < 0 ? undefined : waiting.splice(pick, 1)[0];
  }

  async function run<T>(task: () => Promise<T>, claimants: readonly string[] = []): Promise<T> {
    const admitted = admit(claimants);
    // A displaced check is refused here, its places already given back by whoever displaced it.
    if (admitted.queued) await admitted.queued;
    try {
      return await task();
    } finally {
      charge(claimants, -1);
      running.delete(admitted);
      const following = next();
      if (following) {
        running.add(following);
        following.start();
      }
    }
  }
  return {
    cost: inner.cost,
    hash: (password) => run(() => inner.hash(password)),
    verify: (password, digest, claimants) => run(() => inner.verify(password, digest, claimants), claimants),
  };
}
