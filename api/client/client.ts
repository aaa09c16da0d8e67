import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.gen.ts';

/**
 * A typed client for the Outdial API: openapi-fetch over the types generated from the committed
 * OpenAPI document (api/client/schema.gen.ts). Paths, parameters, bodies and every documented response
 * are checked by the compiler; errors arrive as the API's problem+json documents.
 *
 *   const api = createOutdialClient({ baseUrl: 'https://outdial.example.com', token: 'odk_live_…' });
 *   const { data, error } = await api.POST('/api/v2/calls', { body: { phone_number: '+15551234000' } });
 */
export type OutdialClient = Client<paths>;
export type { components, paths };

type Schemas = components['schemas'];
export type Call = Schemas['Call'];
export type CallList = Schemas['CallList'];
export type CallEvent = Schemas['CallEvent'];
export type CallEventLog = Schemas['CallEventLog'];
export type CampaignProgress = Schemas['CampaignProgress'];
export type CampaignContact = Schemas['CampaignContact'];
export type OriginateResponse = Schemas['OriginateResponse'];
export type CreateCallRequest = Schemas['CreateCallRequest'];
export type User = Schemas['User'];
export type UserList = Schemas['UserList'];
export type TokenResponse = Schemas['TokenResponse'];
export type Problem = Schemas['Problem'];

export interface OutdialClientOptions {
  /** Where the API is, e.g. `https://outdial.example.com` (no trailing `/api/v2`). */
  baseUrl: string;
  /**
   * An access token from `login`, or an API key (`odk_live_…`): sent as `Authorization: Bearer …` on
   * every request.
   */
  token?: string;
  /** Another fetch, e.g. one that answers in-process (tests) or adds tracing. */
  fetch?: (request: Request) => Promise<Response>;
  headers?: Record<string, string>;
}

export function createOutdialClient(options: OutdialClientOptions): OutdialClient {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** An API answer that was not the one hoped for: its status and problem document. */
export class OutdialError extends Error {
  override name = 'OutdialError';
  readonly isOutdialError = true;
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> | undefined,
    /** The Retry-After header (seconds), when the API asked to wait before trying again. */
    readonly retryAfter: string | null = null,
  ) {
    super(`${status} ${problem?.code ?? 'error'}: ${problem?.detail ?? 'no detail'}`);
  }
}

export function isOutdialError(error: unknown): error is OutdialError {
  return typeof error === 'object' && error !== null && 'isOutdialError' in error;
}

/** The data of a successful answer, or an OutdialError carrying the problem document. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined && result.response.ok) return result.data;
  throw new OutdialError(
    result.response.status,
    result.error as Partial<Problem> | undefined,
    result.response.headers.get('Retry-After'),
  );
}

/**
 * `POST /api/v2/token`, the OAuth2 password grant (a form body, as the replaced service took it), as
 * openapi-fetch answers it: `data` or `error`, and the response.
 */
export function requestToken(client: OutdialClient, username: string, password: string) {
  return client.POST('/api/v2/token', {
    body: { username, password },
    bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
}

/**
 * `POST /api/v2/token` with the refresh_token grant: the next access token and the next refresh token
 * (keep it: the one sent is spent, and sending it again ends the session). An OutdialError 401
 * invalid_token when the session has ended.
 */
export async function refresh(client: OutdialClient, refreshToken: string): Promise<TokenResponse> {
  return unwrap(
    await client.POST('/api/v2/token', {
      body: { grant_type: 'refresh_token', refresh_token: refreshToken },
      bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    }),
  );
}

export interface LoginOptions {
  /**
   * Times the login is tried again when the API answers 503 busy (too many passwords being checked
   * at once), after the Retry-After it sends. Default 2.
   */
  retries?: number;
}

/**
 * Logs in: the access token, or an OutdialError (401 invalid_credentials, 429 login_locked, 503 busy
 * once the retries are spent, …).
 */
export async function login(
  client: OutdialClient,
  username: string,
  password: string,
  options: LoginOptions = {},
): Promise<TokenResponse> {
  const retries = options.retries ?? 2;
  for (let attempt = 0; ; attempt++) {
    try {
      return unwrap(await requestToken(client, username, password));
    } catch (error) {
      if (!isOutdialError(error) || error.status !== 503 || attempt >= retries) throw error;
      const seconds = Number(error.retryAfter);
      const delayMs = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 30) * 1000 : 1000;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
