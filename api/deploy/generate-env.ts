/**
 * Writes the .env that docker-compose.yml reads: fresh Ed25519 key pairs for the API and the
 * sidecar (each side gets its own private key and the other's public key), random passwords for
 * PostgreSQL, ARI and Grafana, and the settings only the operator knows, left empty so that
 * `docker compose` stops and names them until they are filled in.
 *
 *   bun api/deploy/generate-env.ts > .env && chmod 600 .env
 *   bun api/deploy/generate-env.ts --domain outdial.example.com --tls ops@example.com > .env
 *
 * Values are single-quoted: docker compose takes them literally (JSON keys contain quotes).
 */
import { parseArgs } from 'node:util';
import { generateSigningJwk, loadSigningKey } from '../shared/base/keys.ts';

/** URL-safe, so it can stand in DATABASE_URL and in Asterisk's configuration as it is. */
export function randomSecret(bytes = 24): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('base64url');
}

export interface EnvOptions {
  domain?: string;
  tls?: string;
  sidecarId?: string;
}

/** The .env text. */
export async function generateEnv(options: EnvOptions = {}): Promise<string> {
  const apiJwk = await generateSigningJwk();
  const sidecarJwk = await generateSigningJwk();
  const apiKey = await loadSigningKey(JSON.stringify(apiJwk));
  const sidecarKey = await loadSigningKey(JSON.stringify(sidecarJwk));
  const quote = (value: string) => {
    if (value.includes("'") || /[\r\n]/.test(value)) throw new Error(`cannot quote ${JSON.stringify(value)}`);
    return `'${value}'`;
  };
  const lines = [
    '# Outdial, docker-compose.yml. Secret: keep this file to the operator (chmod 600).',
    'COMPOSE_PROJECT_NAME=outdial',
    '',
    '# The public host name of the API, and how the proxy gets its certificate: an e-mail',
    '# address (Let\'s Encrypt; ports 80 and 443 must be reachable) or "internal" (Caddy\'s own CA).',
    `OUTDIAL_DOMAIN=${options.domain ?? ''}`,
    `OUTDIAL_TLS=${options.tls ?? ''}`,
    '',
    '# The SIP trunk the bundled Asterisk registers to (asterisk/pjsip.conf).',
    'TRUNK_HOST=',
    'TRUNK_USERNAME=',
    'TRUNK_PASSWORD=',
    '',
    '# Generated: database, ARI and Grafana passwords.',
    `POSTGRES_PASSWORD=${randomSecret()}`,
    `ARI_PASSWORD=${randomSecret()}`,
    `GRAFANA_ADMIN_PASSWORD=${randomSecret(18)}`,
    '',
    '# Generated: the API signs tokens and commands with JWT_PRIVATE_KEY; the sidecar verifies',
    '# commands with API_PUBLIC_KEYS. The sidecar signs event batches with SIDECAR_PRIVATE_KEY;',
    '# the API verifies them with SIDECAR_PUBLIC_KEY.',
    `JWT_PRIVATE_KEY=${quote(JSON.stringify(apiJwk))}`,
    `API_PUBLIC_KEYS=${quote(JSON.stringify({ keys: [apiKey.publicJwk] }))}`,
    `SIDECAR_PRIVATE_KEY=${quote(JSON.stringify(sidecarJwk))}`,
    `SIDECAR_PUBLIC_KEY=${quote(JSON.stringify(sidecarKey.publicJwk))}`,
  ];
  if (options.sidecarId) lines.push('', `SIDECAR_ID=${options.sidecarId}`);
  return `${lines.join('\n')}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      domain: { type: 'string' },
      tls: { type: 'string' },
      'sidecar-id': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: bun api/deploy/generate-env.ts [--domain HOST] [--tls EMAIL|internal] [--sidecar-id ID] > .env',
    );
    process.exit(0);
  }
  process.stdout.write(
    await generateEnv({
      ...(values.domain ? { domain: values.domain } : {}),
      ...(values.tls ? { tls: values.tls } : {}),
      ...(values['sidecar-id'] ? { sidecarId: values['sidecar-id'] } : {}),
    }),
  );
}
