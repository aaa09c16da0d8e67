import { parseArgs } from 'node:util';
import { z } from 'zod';
import { acquireDataDirLock, isDataDirBusy } from '../../db/data-lock.ts';
import { migrate } from '../../db/migrate.ts';
import { openDatabase } from '../../db/open.ts';
import { ROLES, type Role } from '../../db/schema.ts';
import { generatePassword } from '../auth/credentials.ts';
import { createBunPasswordHasher } from '../auth/passwords.ts';
import { ConfigSchema } from '../config.ts';
import { isEnvError, readEnv } from '../shared/base/env.ts';
import { PromptInterrupted, prompt, promptSecret, readStdinLine } from './prompt.ts';
import { createUserChecked, UserInputError } from './users.ts';

const HELP = `Create an Outdial user.

  npm run user:create                                  ask for everything
  npm run user:create -- --username alice --role operator --password-stdin < pw.txt
  npm run user:create -- --username bob --role viewer --generate-password

Options:
  --username NAME        3 to 150 letters, digits or _ . @ -
  --role ROLE            admin, operator (default) or viewer
  --password-stdin       read the password from standard input (first line)
  --generate-password    generate a password and print it once
  -h, --help             this text

Uses DATABASE_URL (a real Postgres) or the embedded database in DATA_DIR (default ./.data),
and BCRYPT_COST (default 12). The embedded database can be open in one process only: while
npm start or the API runs on DATA_DIR this refuses (exit 1) and changes nothing; create users
through the running server then: npm run outdial -- users create (or the console's Users page, or
POST /api/v2/users as an admin). This command is for the first admin, or a lost one.`;

/** The API's own variables, read the way the API reads them (same defaults, same rules). */
const CliEnv = z.object({
  DATABASE_URL: ConfigSchema.shape.DATABASE_URL,
  DATA_DIR: ConfigSchema.shape.DATA_DIR,
  BCRYPT_COST: ConfigSchema.shape.BCRYPT_COST,
});

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      username: { type: 'string' },
      role: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'generate-password': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const env = readEnv('user:create', CliEnv, process.env);
  // Held from before the first question to the end: nobody answers questions for a folder that
  // turns out to be busy, and no server can open it in between.
  const lock = env.DATABASE_URL ? null : await acquireDataDirLock(env.DATA_DIR, 'npm run user:create');
  try {
    return await createFromInput(values, env);
  } finally {
    lock?.release();
  }
}

async function createFromInput(
  values: { username?: string; role?: string; 'password-stdin'?: boolean; 'generate-password'?: boolean },
  env: z.output<typeof CliEnv>,
): Promise<number> {
  const interactive = process.stdin.isTTY === true;
  const username = values.username ?? (interactive ? await prompt('Username: ') : '');
  if (!username) throw new UserInputError('--username is required when not run interactively');
  const roleText =
    values.role ??
    (interactive && !values.username ? (await prompt('Role [operator]: ')) || 'operator' : 'operator');
  if (!(ROLES as readonly string[]).includes(roleText))
    throw new UserInputError(`role must be one of ${ROLES.join(', ')}`);
  let password: string;
  let generated = false;
  if (values['generate-password']) {
    password = generatePassword();
    generated = true;
  } else if (values['password-stdin']) {
    password = await readStdinLine();
  } else if (interactive) {
    password = await promptSecret('Password (empty to generate one): ');
    if (!password) {
      password = generatePassword();
      generated = true;
    }
  } else {
    throw new UserInputError('give --password-stdin or --generate-password when not run interactively');
  }

  // The API accepts less under APP_ENV=test only; users made here are real ones.
  const cost = env.BCRYPT_COST;
  if (cost < 12) throw new UserInputError('BCRYPT_COST must be 12 to 15');
  const database = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    owner: 'npm run user:create',
  });
  try {
    await migrate(database.db);
    const user = await createUserChecked(database.db, createBunPasswordHasher(cost), {
      username,
      password,
      role: roleText as Role,
    });
    console.log(`created ${user.role} "${user.username}" (${user.id}) in ${database.label}`);
    if (generated) console.log(`password: ${password}   (shown once; store it now)`);
  } finally {
    await database.close();
  }
  return 0;
}

try {
  process.exit(await main());
} catch (error) {
  if (
    error instanceof UserInputError ||
    error instanceof PromptInterrupted ||
    (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
  ) {
    console.error(`user:create: ${error.message}`);
    process.exit(2);
  }
  if (isEnvError(error)) {
    console.error(error.message);
    process.exit(2);
  }
  if (isDataDirBusy(error)) {
    console.error(
      `user:create: ${error.message}.\nNothing was changed. Create the user through the running server instead ` +
        "(npm run outdial -- users create, the console's Users page, or POST /api/v2/users as an admin), " +
        'or stop that process and run this again.',
    );
    process.exit(1);
  }
  throw error;
}
