import { type components, unwrap } from '../../client/index.ts';
import { SCOPES, type Scope } from '../../shared/contract/index.ts';
import { type CommandGroup, list, text, UsageError } from './args.ts';
import type { Column } from './output.ts';

type ApiKey = components['schemas']['ApiKey'];

const KEY_COLUMNS: Column<ApiKey>[] = [
  ['id', (k) => k.id],
  ['name', (k) => k.name],
  ['scopes', (k) => k.scopes],
  ['expires', (k) => k.expires_at],
  ['revoked', (k) => k.revoked_at],
  ['last used', (k) => (k.last_used_at ? `${k.last_used_at} from ${k.last_used_ip ?? '?'}` : null)],
  ['created', (k) => k.created_at],
];

export const keyCommands: CommandGroup = {
  list: {
    synopsis: '[--user USER_ID]',
    summary: 'List your API keys (or, with users:admin, another user’s), newest first.',
    options: '  --user USER_ID         another user’s keys (users:admin)',
    parse: { user: { type: 'string' } },
    async run({ values, out, api }) {
      const user = text(values, 'user');
      const keys = unwrap(
        await api().GET('/api/v2/keys', { params: { query: user ? { user_id: user } : {} } }),
      );
      out.result(keys, () => out.table(keys.items, KEY_COLUMNS));
    },
  },
  create: {
    synopsis: '--name NAME --scope SCOPE... [--expires-at TIME] [--user USER_ID]',
    summary:
      'Create an API key. It is printed once: store it as a secret. Roll a key by creating the new one, ' +
      'switching to it, then revoking the old one.',
    options: [
      '  --name NAME            what the key is for',
      `  --scope SCOPE          repeatable or comma-separated: ${SCOPES.join(', ')}`,
      '  --expires-at TIME      when it stops working (ISO 8601, e.g. 2027-06-01T00:00:00Z; default never)',
      '  --user USER_ID         a key for another user, e.g. a service user (users:admin)',
    ].join('\n'),
    parse: {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'expires-at': { type: 'string' },
      user: { type: 'string' },
    },
    async run({ values, out, api }) {
      const name = text(values, 'name');
      const scopes = list(values, 'scope');
      if (!name) throw new UsageError('give --name');
      if (scopes.length === 0) throw new UsageError('give at least one --scope');
      const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (unknown.length > 0)
        throw new UsageError(`--scope: ${unknown.join(', ')} is not one of ${SCOPES.join(', ')}`);
      const expires = text(values, 'expires-at');
      const user = text(values, 'user');
      const key = unwrap(
        await api().POST('/api/v2/keys', {
          body: {
            name,
            scopes: scopes as Scope[],
            ...(expires ? { expires_at: expires } : {}),
            ...(user ? { user_id: user } : {}),
          },
        }),
      );
      out.result(key, () => {
        out.record(KEY_COLUMNS.map(([header, value]) => [header, value(key)]));
        out.line(`key:     ${key.key}`);
        out.note('The key is shown this once: store it now.');
      });
    },
  },
  revoke: {
    synopsis: 'KEY_ID',
    summary: 'Revoke an API key: it is refused from the next request on, and its event streams end.',
    args: ['KEY_ID'],
    async run({ args, out, api }) {
      const key = unwrap(
        await api().DELETE('/api/v2/keys/{key_id}', { params: { path: { key_id: args[0]! } } }),
      );
      out.result(key, () => out.line(`API key ${key.id} (${key.name}) revoked.`));
    },
  },
};
