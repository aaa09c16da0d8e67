// The four classes the sidecar uses, each from its own file: prom-client's index also loads its
// default metrics (with @opentelemetry/api), the summary (tdigest), the push gateway (node:http,
// https, zlib) and the cluster aggregator, which the sidecar never uses and which cost ~9 MiB of
// resident memory at idle (test/bench/README.md, "sidecar memory"). Same classes, same output.
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';

/** The sidecar's Prometheus metrics, in a registry of its own (tests run several sidecars in one process). */
export function createMetrics() {
  const registry = new Registry();
  const registers = [registry];
  /** Read at scrape time: values that live in the store or the engine, not in a counter. */
  const sources: Partial<
    Record<'outboxDepth' | 'deadLetters' | 'queueDepth' | 'liveChannels', () => number>
  > = {};
  const fromSource = (name: keyof typeof sources) =>
    function collect(this: Gauge) {
      const read = sources[name];
      if (read) this.set(read());
    };
  return {
    registry,
    sources,
    ariRequests: new Counter({
      name: 'sidecar_ari_requests_total',
      help: 'ARI HTTP requests by method, route template and status (network errors and timeouts as "error"/"timeout")',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    ariRequestDuration: new Histogram({
      name: 'sidecar_ari_request_duration_seconds',
      help: 'ARI HTTP request duration per attempt',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    wsConnected: new Gauge({
      name: 'sidecar_ari_websocket_connected',
      help: '1 while the ARI events WebSocket is open',
      registers,
    }),
    wsReconnects: new Counter({
      name: 'sidecar_ari_websocket_reconnects_total',
      help: 'Reconnection attempts of the ARI events WebSocket',
      registers,
    }),
    breakerState: new Gauge({
      name: 'sidecar_breaker_state',
      help: 'ARI circuit breaker: 0 closed, 1 half-open, 2 open',
      registers,
    }),
    outboxDepth: new Gauge({
      name: 'sidecar_outbox_depth',
      help: 'Call events not yet acknowledged by the API',
      registers,
      collect: fromSource('outboxDepth'),
    }),
    deadLetters: new Gauge({
      name: 'sidecar_outbox_dead_letters',
      help: 'Call events the API refused as malformed, kept aside',
      registers,
      collect: fromSource('deadLetters'),
    }),
    queueDepth: new Gauge({
      name: 'sidecar_pacing_queue_depth',
      help: 'Calls waiting for pacing capacity',
      registers,
      collect: fromSource('queueDepth'),
    }),
    liveChannels: new Gauge({
      name: 'sidecar_live_channels',
      help: 'Calls originated and not yet ended (the concurrency that MAX_CONCURRENT_CALLS bounds)',
      registers,
      collect: fromSource('liveChannels'),
    }),
    eventLag: new Histogram({
      name: 'sidecar_event_lag_seconds',
      help: 'From an ARI event reaching the sidecar to the API acknowledging the call event it produced',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    ariEvents: new Counter({
      name: 'sidecar_ari_events_total',
      help: 'ARI events received, by type',
      labelNames: ['type'] as const,
      registers,
    }),
    originates: new Counter({
      name: 'sidecar_originates_total',
      help: 'Originate outcomes (dialing, queued, finished, rejected, unavailable, existing)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    commands: new Counter({
      name: 'sidecar_commands_total',
      help: 'Signed commands by command and result',
      labelNames: ['command', 'result'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
