import { hostname } from 'node:os';
import { ROLE_SCOPES } from '../../auth/scopes.ts';
import {
  createOutdialClient,
  isOutdialError,
  login,
  type OutdialClient,
  unwrap,
} from '../../client/index.ts';
import { SCOPES, type Scope } from '../../shared/contract/index.ts';
import { prompt, promptSecret, readStdinLine } from '../prompt.ts';
import { type CommandGroup, list, text, UsageError } from './args.ts';
import { configPath, keyIdOf, readStoredConfig, removeStoredConfig, writeStoredConfig } from './config.ts';

/** The most a key's name may be (the keys route's rule). */
const KEY_NAME_MAX = 100;

function serverUrl(raw: string | undefined): string {
  const url = raw?.trim() || process.env.OUTDIAL_URL?.trim();
  if (!url) throw new UsageError('give --url (where the Outdial API is, e.g. https://outdial.example.com)');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url: "${url}" is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new UsageError('--url must be an http or https URL');
  }
  return parsed.toString().replace(/\/+$/, '');
}

/** This machine: where plain http is as private as the machine itself. */
function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function scopesFrom(given: string[]): Scope[] | null {
  if (given.length === 0) return null;
  const unknown = given.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new UsageError(`--scope: ${unknown.join(', ')} is not one of ${SCOPES.join(', ')}`);
  return given as Scope[];
}

async function askCredentials(
  values: Record<string, unknown>,
): Promise<{ username: string; password: string }> {
  const interactive = process.stdin.isTTY === true;
  const username =
    (typeof values.username === 'string' ? values.username : '') ||
    (interactive ? await prompt('Username: ') : '');
  if (!username)
    throw new UsageError('give --username (and --password-stdin), or --key, when not run at a terminal');
  let password: string;
  if (values['password-stdin'] === true) password = await readStdinLine();
  else if (interactive) password = await promptSecret('Password: ');
  else throw new UsageError('give --password-stdin when not run at a terminal');
  if (!password) throw new UsageError('the password is empty');
  return { username, password };
}

/**
 * Logs in with the password once and mints a key for this machine: the password is never stored,
 * and the login's session is ended at once, so the key is the only credential left behind.
 */
async function mintKey(
  url: string,
  credentials: { username: string; password: string },
  name: string,
  wanted: Scope[] | null,
) {
  const tokens = await login(
    createOutdialClient({ baseUrl: url }),
    credentials.username,
    credentials.password,
  );
  const session = createOutdialClient({ baseUrl: url, token: tokens.access_token });
  try {
    const me = unwrap(await session.GET('/api/v2/me'));
    const scopes = wanted ?? [...ROLE_SCOPES[me.role]];
    const created = unwrap(await session.POST('/api/v2/keys', { body: { name, scopes } }));
    return { user: me, key: created };
  } finally {
    await session.POST('/api/v2/token/revoke', { body: {} }).catch(() => undefined);
  }
}

export const authCommands: CommandGroup = {
  login: {
    synopsis: '--url URL [--username NAME --password-stdin | --key KEY]',
    summary:
      'Log in to a server and store it with an API key (never the password) in ' +
      '$XDG_CONFIG_HOME/outdial/config.json (default ~/.config/outdial/config.json), mode 0600. ' +
      'With a password, a key is created for this machine with every scope your role grants (or --scope).',
    options: [
      '  --url URL              the API, e.g. https://outdial.example.com (default OUTDIAL_URL)',
      '  --username NAME        who logs in (asked at a terminal)',
      '  --password-stdin       read the password from standard input (asked at a terminal otherwise)',
      '  --key KEY              store this API key (odk_live_…) instead of logging in with a password',
      '  --name NAME            the new key’s name (default "outdial CLI on <host>")',
      '  --scope SCOPE          the new key’s scopes, repeatable or comma-separated (default: your role’s)',
    ].join('\n'),
    parse: {
      url: { type: 'string' },
      username: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      key: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
    },
    async run({ values, out }) {
      const url = serverUrl(text(values, 'url'));
      if (!isLoopback(url) && url.startsWith('http:')) {
        out.note(`warning: ${url} is plain http: the password and the key cross the network unencrypted`);
      }
      const given = text(values, 'key');
      let stored: { key: string; keyId: string; username: string; scopes: string[] };
      if (given !== undefined) {
        const keyId = keyIdOf(given.trim());
        if (!keyId) throw new UsageError('--key must be an Outdial API key (odk_live_…)');
        const client = createOutdialClient({ baseUrl: url, token: given.trim() });
        const me = unwrap(await client.GET('/api/v2/me'));
        stored = { key: given.trim(), keyId, username: me.username, scopes: [] };
      } else {
        const name = (text(values, 'name') ?? `outdial CLI on ${hostname()}`).slice(0, KEY_NAME_MAX);
        const minted = await mintKey(
          url,
          await askCredentials(values),
          name,
          scopesFrom(list(values, 'scope')),
        );
        stored = {
          key: minted.key.key,
          keyId: minted.key.id,
          username: minted.user.username,
          scopes: minted.key.scopes,
        };
      }
      const path = configPath();
      // A file that is not a configuration (any more) is simply replaced.
      const previous = (() => {
        try {
          return readStoredConfig(path);
        } catch {
          return null;
        }
      })();
      writeStoredConfig({ url, key: stored.key }, path);
      if (previous && previous.key !== stored.key) {
        // The replaced key still works where it was made; revoking it is the person's choice.
        out.note(
          `This replaces the login to ${previous.url} (API key ${keyIdOf(previous.key)}), which stays valid there ` +
            'until revoked (outdial keys revoke).',
        );
      }
      out.result(
        { url, username: stored.username, key_id: stored.keyId, scopes: stored.scopes, config: path },
        () => {
          out.line(`Logged in to ${url} as ${stored.username}.`);
          out.line(
            `API key ${stored.keyId}${stored.scopes.length ? ` (${stored.scopes.join(', ')})` : ''} stored in ${path}.`,
          );
        },
      );
    },
  },
  logout: {
    synopsis: '',
    summary: 'Revoke the stored API key on its server and delete the configuration file.',
    async run({ out }) {
      const path = configPath();
      const stored = readStoredConfig(path);
      if (!stored) {
        out.result({ logged_out: false, config: path }, () => out.line(`Not logged in (no ${path}).`));
        return;
      }
      const keyId = keyIdOf(stored.key)!;
      const client: OutdialClient = createOutdialClient({ baseUrl: stored.url, token: stored.key });
      let revoked = true;
      try {
        unwrap(await client.DELETE('/api/v2/keys/{key_id}', { params: { path: { key_id: keyId } } }));
      } catch (error) {
        // A key the server already refuses is as good as revoked; anything else keeps the file.
        if (!isOutdialError(error) || error.status !== 401) throw error;
        revoked = false;
      }
      removeStoredConfig(path);
      out.result({ logged_out: true, key_id: keyId, revoked, config: path }, () =>
        out.line(
          revoked
            ? `API key ${keyId} revoked; ${path} deleted.`
            : `The server no longer accepts API key ${keyId} (revoked or expired); ${path} deleted.`,
        ),
      );
    },
  },
};
