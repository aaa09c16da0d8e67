import { parseArgs } from 'node:util';
import { migrate } from '../../db/migrate.ts';
import { openDatabase } from '../../db/open.ts';
import { ROLES, type Role } from '../../db/schema.ts';
import { createBunPasswordHasher } from '../entry/bun-runtime.ts';
import { generatePassword } from '../routes/users/update.ts';
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
and BCRYPT_COST (default 12).`;

async function prompt(question: string): Promise<string> {
  process.stdout.write(question);
  for await (const line of console) return line.trim();
  return '';
}

/** Reads a line from the terminal without echoing it. */
async function promptSecret(question: string): Promise<string> {
  process.stdout.write(question);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  let value = '';
  try {
    for await (const chunk of stdin) {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return value;
        if (ch === '\u0003') throw new UserInputError('interrupted');
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    }
    return value;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stdout.write('\n');
  }
}

async function readStdinLine(): Promise<string> {
  const text = await Bun.stdin.text();
  return text.split(/\r?\n/)[0] ?? '';
}

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

  const cost = Number(process.env.BCRYPT_COST ?? 12);
  if (!Number.isInteger(cost) || cost < 12 || cost > 15)
    throw new UserInputError('BCRYPT_COST must be 12 to 15');
  const database = await openDatabase({
    databaseUrl: process.env.DATABASE_URL || undefined,
    dataDir: process.env.DATA_DIR ?? './.data',
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
    (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
  ) {
    console.error(`user:create: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
