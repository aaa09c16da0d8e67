/** A local webhook receiver for tests: records every request and answers as scripted. */
export interface ReceivedHook {
  headers: Record<string, string>;
  body: string;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedHook[];
  /** Statuses to answer, in order; after they run out, `fallback`. */
  script: number[];
  fallback: number;
  /** When set, answers 302 with this Location. */
  redirectTo: string | null;
  /** Requests received and not answered yet, and the most there ever were at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Requests answered so far. */
  readonly answered: number;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedHook[]>;
  /** From now on every request is held unanswered (a stalled endpoint) until `release()`. */
  stall(): void;
  /** Answers the held requests and stops holding new ones. */
  release(): void;
  stop(): void;
}

export function startWebhookReceiver(): WebhookReceiver {
  let inFlight = 0;
  let maxInFlight = 0;
  let answered = 0;
  let gate: { promise: Promise<void>; open: () => void } | null = null;
  const r: WebhookReceiver = {
    url: '',
    received: [],
    script: [],
    fallback: 200,
    redirectTo: null,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get answered() {
      return answered;
    },
    async waitFor(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (r.received.length < count) {
        if (Date.now() > deadline) throw new Error(`received ${r.received.length} of ${count} webhooks`);
        await Bun.sleep(10);
      }
      return r.received.slice(0, count);
    },
    stall() {
      if (gate) return;
      const { promise, resolve } = Promise.withResolvers<void>();
      gate = { promise, open: resolve };
    },
    release() {
      gate?.open();
      gate = null;
    },
    stop() {
      r.release();
      server.stop(true);
    },
  };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        r.received.push({ headers: Object.fromEntries(req.headers), body: await req.text(), at: Date.now() });
        if (gate) await gate.promise;
        if (r.redirectTo) return new Response(null, { status: 302, headers: { Location: r.redirectTo } });
        const status = r.script.shift() ?? r.fallback;
        return new Response(status < 300 ? 'ok' : 'nope', { status });
      } finally {
        inFlight--;
        answered++;
      }
    },
  });
  r.url = `http://127.0.0.1:${server.port}/hooks`;
  return r;
}
