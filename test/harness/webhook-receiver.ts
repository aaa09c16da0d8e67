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
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedHook[]>;
  stop(): void;
}

export function startWebhookReceiver(): WebhookReceiver {
  const r: WebhookReceiver = {
    url: '',
    received: [],
    script: [],
    fallback: 200,
    redirectTo: null,
    async waitFor(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (r.received.length < count) {
        if (Date.now() > deadline) throw new Error(`received ${r.received.length} of ${count} webhooks`);
        await Bun.sleep(10);
      }
      return r.received.slice(0, count);
    },
    stop() {
      server.stop(true);
    },
  };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      r.received.push({ headers: Object.fromEntries(req.headers), body: await req.text(), at: Date.now() });
      if (r.redirectTo) return new Response(null, { status: 302, headers: { Location: r.redirectTo } });
      const status = r.script.shift() ?? r.fallback;
      return new Response(status < 300 ? 'ok' : 'nope', { status });
    },
  });
  r.url = `http://127.0.0.1:${server.port}/hooks`;
  return r;
}
