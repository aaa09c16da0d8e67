import { writeAudit } from '../../db/queries/misc.ts';
import { countActiveAdmins, createUser, getUserByUsername } from '../../db/queries/users.ts';
import type { Role } from '../../db/schema.ts';
import type { Db } from '../../db/types.ts';
import { generatePassword, PasswordSchema, UsernameSchema } from '../auth/credentials.ts';
import type { PasswordHasher } from '../auth/passwords.ts';

export class UserInputError extends Error {
  override name = 'UserInputError';
}

/** Creates a user from the command line with the same rules as `POST /api/v2/users`. */
export async function createUserChecked(
  db: Db,
  passwords: PasswordHasher,
  input: { username: string; password: string; role: Role },
) {
  const name = UsernameSchema.safeParse(input.username);
  if (!name.success) throw new UserInputError(`username: ${name.error.issues[0]?.message}`);
  const pw = PasswordSchema.safeParse(input.password);
  if (!pw.success) throw new UserInputError(`password: ${pw.error.issues[0]?.message}`);
  const user = await createUser(db, {
    username: input.username,
    passwordHash: await passwords.hash(input.password),
    role: input.role,
  });
  if (!user) {
    throw new UserInputError(
      `username: "${input.username}" is taken (names that differ only in case or Unicode form are the same name)`,
    );
  }
  await writeAudit(db, {
    actorId: null,
    action: 'user.create',
    targetType: 'user',
    targetId: user.id,
    details: { via: 'cli', role: input.role },
  });
  return user;
}

export type FirstAdmin =
  | { created: false }
  | { created: true; username: string; password: string; generated: boolean };

/**
 * Makes sure the database has an active admin. With ADMIN_USERNAME/ADMIN_PASSWORD that admin is
 * created; otherwise `admin` with a generated password, which is returned so it can be printed once
 * (`generated`: a password from the environment is the user's own and is never printed).
 */
export async function ensureFirstAdmin(
  db: Db,
  passwords: PasswordHasher,
  env: { ADMIN_USERNAME?: string | undefined; ADMIN_PASSWORD?: string | undefined },
): Promise<FirstAdmin> {
  if ((await countActiveAdmins(db)) > 0) return { created: false };
  const username = env.ADMIN_USERNAME?.trim() || 'admin';
  if (await getUserByUsername(db, username)) {
    throw new UserInputError(
      `there is no active admin, and the user "${username}" exists but is not one; use npm run user:create`,
    );
  }
  const generated = !env.ADMIN_PASSWORD;
  const password = env.ADMIN_PASSWORD || generatePassword();
  await createUserChecked(db, passwords, { username, password, role: 'admin' });
  return { created: true, username, password, generated };
}
