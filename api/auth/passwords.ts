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

/** The cost factor a bcrypt hash was made with. */
export function bcryptCost(digest: string): number | null {
  const m = /^\$2[aby]\$(\d\d)\$/.exec(digest);
  return m ? Number(m[1]) : null;
}
