import {
  API_EVENTS_PATH,
  type CallEvent,
  EventBatch,
  EventBatchAck,
} from '../../../api/shared/contract/index.ts';

export interface TappedBatch {
  /** The Authorization header and body exactly as the sidecar sent them. */
  authorization: string;
  body: string;
  events: CallEvent[];
  /** The API's answer (0: the API could not be reached). */
  status: number;
  ack: EventBatchAck | null;
}

/** What passed between the sidecar and the API's event endpoint. */
export interface EventTap {
  readonly url: string;
  batches: TappedBatch[];
  /** Per event id, the result the API gave each time the event was delivered. */
  results(): Map<string, string[]>;
}

/** A pass-through in front of the API's event endpoint that keeps every batch and its answer. */
export function startTap(target: () => string, port: number): EventTap & { up(): void; down(): void } {
  let server: ReturnType<typeof Bun.serve> | null = null;
  const tap = {
    url: `http://127.0.0.1:${port}`,
    batches: [] as TappedBatch[],
    results() {
      const out = new Map<string, string[]>();
      for (const batch of tap.batches) {
        for (const r of batch.ack?.results ?? [])
          out.set(r.event_id, [...(out.get(r.event_id) ?? []), r.result]);
      }
      return out;
    },
    up() {
      server = Bun.serve({
        hostname: '127.0.0.1',
        port,
        async fetch(request) {
          const url = new URL(request.url);
          const body = await request.text();
          const authorization = request.headers.get('authorization') ?? '';
          let events: CallEvent[] = [];
          try {
            events = EventBatch.parse(JSON.parse(body)).events;
          } catch {
            // not a batch; passed on all the same
          }
          const record: TappedBatch = { authorization, body, events, status: 0, ack: null };
          tap.batches.push(record);
          let response: Response;
          try {
            response = await fetch(`${target()}${url.pathname}${url.search}`, {
              method: request.method,
              headers: {
                authorization,
                'content-type': request.headers.get('content-type') ?? 'application/json',
              },
              body,
            });
          } catch {
            return new Response(null, { status: 502 });
          }
          const text = await response.text();
          record.status = response.status;
          if (url.pathname === API_EVENTS_PATH && response.ok) {
            const parsed = EventBatchAck.safeParse(JSON.parse(text));
            record.ack = parsed.success ? parsed.data : null;
          }
          // fetch decoded the body: pass it on as plain text, without the upstream's encoding.
          return new Response(text, {
            status: response.status,
            headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
          });
        },
      });
    },
    down() {
      server?.stop(true);
      server = null;
    },
  };
  tap.up();
  return tap;
}
