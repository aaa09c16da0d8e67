import { generateSigningJwk, loadSigningKey, type SigningKey } from '../../api/shared/base/keys.ts';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import { type OriginateCommand, TYP_COMMAND } from '../../api/shared/contract/index.ts';

/**
 * Both ends of the signed channel as tests play them: key pairs for either side, a signer that
 * sends commands to a sidecar the way the API does, and a valid originate command to send.
 */

export interface KeyPair {
  privateJson: string;
  publicJson: string;
  key: SigningKey;
}

export async function keyPair(): Promise<KeyPair> {
  const jwk = await generateSigningJwk();
  const key = await loadSigningKey(JSON.stringify(jwk));
  return { privateJson: JSON.stringify(jwk), publicJson: JSON.stringify(key.publicJwk), key };
}

/** Plays the API: signs commands for a sidecar the way api/calls/sidecar-client.ts does. */
export interface CommandSigner {
  send(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    options?: {
      /** Sign this body but send another. */
      sendBody?: string;
      /** Sign for this path but send to `path`. */
      signPath?: string;
      key?: SigningKey;
      ttlSeconds?: number;
      now?: Date;
      token?: string;
      audience?: string;
      typ?: string;
    },
  ): Promise<{ status: number; json: unknown; token: string; headers: Headers }>;
  originate(command: OriginateCommand): Promise<{ status: number; json: unknown }>;
  hangup(callId: string): Promise<{ status: number; json: unknown }>;
}

export function commandSigner(
  sidecarUrl: () => string,
  sidecarId: string,
  key: SigningKey,
  issuer = 'outdial',
): CommandSigner {
  const signer: CommandSigner = {
    async send(method, path, body, options = {}) {
      const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      const token =
        options.token ??
        (await signChannelMessage({
          key: options.key ?? key,
          issuer,
          audience: options.audience ?? `sidecar:${sidecarId}`,
          typ: options.typ ?? TYP_COMMAND,
          method,
          path: options.signPath ?? path,
          body: text,
          ttlSeconds: options.ttlSeconds ?? 30,
          ...(options.now ? { now: options.now } : {}),
        }));
      const response = await fetch(`${sidecarUrl()}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
        },
        ...(method === 'POST' ? { body: options.sendBody ?? text } : {}),
      });
      const json = await response.json().catch(() => null);
      return { status: response.status, json, token, headers: response.headers };
    },
    originate: (command) => signer.send('POST', '/v1/commands/originate', command),
    hangup: (callId) =>
      signer.send('POST', '/v1/commands/hangup', { call_id: callId, requested_at: new Date().toISOString() }),
  };
  return signer;
}

export function originateCommand(phone: string, overrides: Partial<OriginateCommand> = {}): OriginateCommand {
  return {
    call_id: crypto.randomUUID(),
    phone_number: phone,
    context: 'outbound-ivr',
    extension: 's',
    priority: 1,
    timeout_ms: 30_000,
    caller_id: 'Contact Center <5550001111>',
    variables: {},
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    requested_at: new Date().toISOString(),
    ...overrides,
  };
}
