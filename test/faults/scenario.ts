import { expect } from 'bun:test';
import { CallEventSchema, CallSchema } from '../../api/calls/bodies.ts';
import type { OriginateRecord } from '../../asterisk/sim/server.ts';
import { eventLogProblem, FINAL_STATUSES } from '../harness/checks.ts';
import type { CallBody, E2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';

/**
 * What every fault scenario checks, and the client that checks it:
 *
 * - every request answers within its deadline, with a 2xx, a 4xx or a 503 problem+json that
 *   carries Retry-After (a request still open at its deadline, or any other 5xx, is a failure);
 * - no accepted call is lost: every call the API answered 200 for reaches exactly one final
 *   status, read back through the API, with a well-formed event log;
 * - none rings twice: no call id reaches ARI (the simulator's originate log) more than once;
 * - the system recovers by itself: once the fault is lifted, new calls complete, with nothing
 *   restarted.
 */

/** The API's bound on a command to the sidecar in these scenarios. */
export const SIDECAR_TIMEOUT_MS = 3000;
/** The API's bound on one round trip to PostgreSQL (its default). */
export const DATABASE_QUERY_TIMEOUT_MS = 3000;
/**
 * A client's deadline for any request: the sidecar's timeout, the database's, and a second. A
 * request that waited on both the sidecar and a database that stopped answering meets it.
 */
export const DEADLINE_MS = SIDECAR_TIMEOUT_MS + DATABASE_QUERY_TIMEOUT_MS + 1000;

export const API_ENV = {
  SIDECAR_TIMEOUT_MS: String(SIDECAR_TIMEOUT_MS),
  DATABASE_QUERY_TIMEOUT_MS: String(DATABASE_QUERY_TIMEOUT_MS),
};

export interface Answer {
  status: number;
  ms: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export class Ledger {
  /** Calls the API answered 200 for. */
  readonly accepted: string[] = [];
  /** Answers by route and status, e.g. `POST /calls 503 pbx_unavailable` → count. */
  readonly tally = new Map<string, number>();
  /**
   * Requests that broke the rules (no answer by the deadline, a 5xx other than a 503 problem),
   * counted by kind, with the first answer of each kind.
   */
  readonly problems = new Map<string, { count: number; first: string }>();
  slowest = 0;
  requests = 0;

  constructor(
    private readonly stack: E2EStack,
    private readonly deadlineMs = DEADLINE_MS,
  ) {}

  async request(
    what: string,
    path: string,
    init: { method?: string; token?: string; json?: unknown } = {},
  ): Promise<Answer | null> {
    const headers: Record<string, string> = {};
    if (init.token) headers.Authorization = `Bearer ${init.token}`;
    if (init.json !== undefined) headers['Content-Type'] = 'application/json';
    const started = performance.now();
    this.requests += 1;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.stack.apiUrl}${path}`, {
        method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
        headers,
        ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
        signal: AbortSignal.timeout(this.deadlineMs),
      });
      text = await response.text();
    } catch (error) {
      const name = (error as Error).name;
      this.problem(
        name === 'TimeoutError' || name === 'AbortError'
          ? `${what}: no answer within ${this.deadlineMs} ms`
          : `${what}: ${name}`,
        (error as Error).message,
      );
      return null;
    }
    const ms = performance.now() - started;
    this.slowest = Math.max(this.slowest, ms);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // judged below by status and content type
    }
    const code = typeof body.code === 'string' ? ` ${body.code}` : '';
    const key = `${what} ${response.status}${response.status >= 400 ? code : ''}`;
    this.tally.set(key, (this.tally.get(key) ?? 0) + 1);
    if (response.status >= 500) {
      const problem = response.headers.get('content-type')?.startsWith('application/problem+json');
      const retryAfter = Number(response.headers.get('retry-after'));
      if (response.status !== 503 || !problem || !(retryAfter >= 1)) {
        this.problem(
          `${what}: ${response.status}${code} ${response.headers.get('content-type')} retry-after=${response.headers.get('retry-after')}`,
          text.slice(0, 300),
        );
      }
    }
    return { status: response.status, ms, body, headers: response.headers };
  }

  private problem(kind: string, sample: string): void {
    const seen = this.problems.get(kind);
    if (seen) seen.count += 1;
    else this.problems.set(kind, { count: 1, first: sample });
  }

  /** POST /api/v2/calls; the call id when the API accepted it (200). */
  async placeCall(user: TestUser, body: Record<string, unknown>): Promise<string | null> {
    const answer = await this.request('POST /calls', '/api/v2/calls', { token: user.token, json: body });
    if (answer?.status !== 200) return null;
    const id = answer.body.call_id as string;
    this.accepted.push(id);
    return id;
  }

  async readCall(user: TestUser, id: string): Promise<Answer | null> {
    return this.request('GET /calls/{id}', `/api/v2/calls/${id}`, { token: user.token });
  }

  summary(): string {
    const rows = [...this.tally.entries()].sort(([a], [b]) => a.localeCompare(b));
    return `${this.requests} requests, slowest ${Math.round(this.slowest)} ms, ${this.accepted.length} calls accepted; ${rows.map(([k, n]) => `${k}: ${n}`).join(', ')}`;
  }
}

export interface LoadOptions {
  /** Concurrent placers. */
  placers?: number;
  /** Concurrent readers of accepted calls. */
  readers?: number;
  /** Pause between two requests of one worker. */
  pauseMs?: number;
  body?: () => Record<string, unknown>;
}

/** Places calls and reads accepted ones until stop() is awaited. */
export function startLoad(ledger: Ledger, user: TestUser, options: LoadOptions = {}) {
  let running = true;
  const pause = options.pauseMs ?? 50;
  const body = options.body ?? (() => ({ phone_number: '5551234000' }));
  const placer = async () => {
    while (running) {
      await ledger.placeCall(user, body());
      await Bun.sleep(pause);
    }
  };
  const reader = async () => {
    while (running) {
      const ids = ledger.accepted;
      if (ids.length > 0) await ledger.readCall(user, ids[Math.floor(Math.random() * ids.length)]!);
      await Bun.sleep(pause);
    }
  };
  const workers = [
    ...Array.from({ length: options.placers ?? 2 }, placer),
    ...Array.from({ length: options.readers ?? 2 }, reader),
  ];
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

/** No request broke its deadline or answered anything but 2xx, 4xx or a 503 problem. */
export function expectAnsweredInTime(ledger: Ledger): void {
  expect(Object.fromEntries(ledger.problems)).toEqual({});
}

/** Every accepted call has one final status and a well-formed event log, read through the API. */
export async function expectNoneLost(stack: E2EStack, user: TestUser, ids: string[], timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  const final = await waitFinal(stack, user, ids, deadline);
  for (const id of ids) {
    const body = (await readAgain(stack, user, `/api/v2/calls/${id}/events`, deadline)) as {
      events: unknown[];
    };
    const log = body.events.map((e) => CallEventSchema.parse(e));
    expect({ id, problem: eventLogProblem(log) }).toEqual({ id, problem: null });
  }
  return final;
}

/** Polls the API until every call has a final status, reading as a patient client does. */
async function waitFinal(
  stack: E2EStack,
  user: TestUser,
  ids: string[],
  deadline: number,
): Promise<Map<string, CallBody>> {
  const final = new Map<string, CallBody>();
  for (;;) {
    const open = ids.filter((id) => !final.has(id));
    // A few at a time: polling must not be what loads the API.
    for (let i = 0; i < open.length; i += 20) {
      const calls = await Promise.all(
        open.slice(i, i + 20).map((id) => readAgain(stack, user, `/api/v2/calls/${id}`, deadline)),
      );
      for (const body of calls) {
        const call = CallSchema.parse(body);
        if (FINAL_STATUSES.has(call.status)) final.set(call.call_id, call);
      }
    }
    if (final.size === ids.length) return final;
    if (Date.now() > deadline) {
      throw new Error(`${ids.length - final.size} of ${ids.length} calls not final in time`);
    }
    await Bun.sleep(100);
  }
}

/**
 * GET as a patient client: a 503 (the answer while a part is still coming back) is asked again
 * after a short wait, until the deadline; anything but 200 or 503 fails.
 */
async function readAgain(stack: E2EStack, user: TestUser, path: string, deadline: number): Promise<unknown> {
  for (;;) {
    const res = await stack.request(path, { token: user.token });
    if (res.status === 200) return res.json();
    const text = await res.text();
    if (res.status !== 503 || Date.now() > deadline) throw new Error(`GET ${path}: ${res.status} ${text}`);
    await Bun.sleep(200);
  }
}

/** `completed/normal: 12, failed/lost: 3` */
export function statusCounts(final: Map<string, { status: string; reason: string | null }>): string {
  const counts = new Map<string, number>();
  for (const call of final.values()) {
    const key = `${call.status}/${call.reason}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()].map(([k, n]) => `${k}: ${n}`).join(', ');
}

/** No call id reached ARI twice. */
export function expectNoneRangTwice(originates: OriginateRecord[]): void {
  const seen = new Map<string, number[]>();
  for (const o of originates) {
    if (o.channelId) seen.set(o.channelId, [...(seen.get(o.channelId) ?? []), o.status]);
  }
  const twice = [...seen.entries()].filter(([, statuses]) => statuses.length > 1);
  expect(twice).toEqual([]);
}

/** With the fault lifted and nothing restarted, new calls are accepted and complete. */
export async function expectRecovers(stack: E2EStack, user: TestUser, calls = 5, withinMs = 20_000) {
  const deadline = Date.now() + withinMs;
  // The first attempts may still meet an open breaker or a socket being replaced: retry a
  // refused call, as a client told Retry-After would, until the deadline.
  const ids: string[] = [];
  while (ids.length < calls) {
    const res = await stack.placeCall(user, { phone_number: '5551234000' });
    if (res.status === 200) {
      ids.push(res.body.call_id as string);
      continue;
    }
    expect(res.status).toBe(503);
    if (Date.now() > deadline)
      throw new Error(`no recovery within ${withinMs} ms: ${JSON.stringify(res.body)}`);
    await Bun.sleep(250);
  }
  const final = await waitFinal(stack, user, ids, Date.now() + withinMs);
  for (const id of ids) expect([id, final.get(id)!.status]).toEqual([id, 'completed']);
}
