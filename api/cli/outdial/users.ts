import { generatePassword } from '../../auth/credentials.ts';
import { ROLE_SCOPES } from '../../auth/scopes.ts';
import { type User, unwrap } from '../../client/index.ts';
import { readStdinLine } from '../prompt.ts';
import { type CommandGroup, type CommandInput, text, UsageError } from './args.ts';
import type { Column } from './output.ts';
import { listPages, noteMore, PAGING_OPTIONS, PAGING_PARSE } from './paging.ts';

/** The roles, as the API grants them. */
const ROLES = Object.keys(ROLE_SCOPES) as User['role'][];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const USER_COLUMNS: Column<User>[] = [
  ['id', (u) => u.id],
  ['username', (u) => u.username],
  ['role', (u) => u.role],
  ['active', (u) => (u.is_active ? 'yes' : 'no')],
  ['login', (u) => (u.can_login ? 'password' : 'keys only')],
  ['created', (u) => u.created_at],
];

/** A user by id, or by username (looked up in the list, which admins read). */
async function findUserId({ api }: CommandInput, who: string): Promise<string> {
  if (UUID.test(who)) return who;
  let cursor: string | undefined;
  for (;;) {
    const page = unwrap(await api().GET('/api/v2/users', { params: { query: { limit: 100, cursor } } }));
    const found = page.items.find((u) => u.username === who);
    if (found) return found.id;
    if (!page.next_cursor) throw new UsageError(`no user "${who}"`);
    cursor = page.next_cursor;
  }
}

export const userCommands: CommandGroup = {
  list: {
    synopsis: '[--limit N] [--cursor C] [--all]',
    summary: 'List users (admins).',
    options: PAGING_OPTIONS,
    parse: PAGING_PARSE,
    async run({ values, out, api }) {
      const page = await listPages(values, (query) => api().GET('/api/v2/users', { params: { query } }));
      out.result(page, () => out.table(page.items, USER_COLUMNS));
      noteMore(out, page);
    },
  },
  create: {
    synopsis: '--username NAME [--role ROLE] (--password-stdin | --generate-password | --no-login)',
    summary:
      'Create a user (admins). With --no-login the user cannot log in with a password and acts through API ' +
      'keys only (a service user).',
    options: [
      '  --username NAME        3 to 150 letters, digits or _ . @ -',
      `  --role ROLE            ${ROLES.join(', ')} (default operator)`,
      '  --password-stdin       read the password from standard input',
      '  --generate-password    generate a password and print it once',
      '  --no-login             a service user: no password, API keys only',
    ].join('\n'),
    parse: {
      username: { type: 'string' },
      role: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'generate-password': { type: 'boolean' },
      'no-login': { type: 'boolean' },
    },
    async run({ values, out, api }) {
      const username = text(values, 'username');
      if (!username) throw new UsageError('give --username');
      const role = text(values, 'role') ?? 'operator';
      if (!(ROLES as readonly string[]).includes(role))
        throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      const body: { username: string; role: User['role']; password?: string; can_login?: boolean } = {
        username,
        role: role as User['role'],
      };
      const ways = ['password-stdin', 'generate-password', 'no-login'].filter((w) => values[w] === true);
      if (ways.length !== 1) {
        throw new UsageError('give one of --password-stdin, --generate-password and --no-login');
      }
      const generated = values['generate-password'] === true ? generatePassword() : undefined;
      if (values['password-stdin'] === true) body.password = await readStdinLine();
      else if (generated) body.password = generated;
      else body.can_login = false;
      const created = unwrap(await api().POST('/api/v2/users', { body }));
      out.result(generated ? { ...created, password: generated } : created, () => {
        out.record(USER_COLUMNS.map(([name, value]) => [name, value(created)]));
        if (generated) out.line(`password: ${generated}   (shown once; store it now)`);
      });
    },
  },
  disable: {
    synopsis: 'USER',
    summary: 'Deactivate a user (by id or username): their tokens, keys and streams stop working at once.',
    args: ['USER'],
    async run(input) {
      const id = await findUserId(input, input.args[0]!);
      const user = unwrap(
        await input.api().PATCH('/api/v2/users/{user_id}', {
          params: { path: { user_id: id } },
          body: { is_active: false },
        }),
      );
      input.out.result(user, () => input.out.line(`User ${user.username} (${user.id}) is deactivated.`));
    },
  },
};
