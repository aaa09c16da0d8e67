import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics } from './metrics.ts';

/** prom-client metrics under the replaced service's names, plus Outdial's own. One registry per app. */
export function createPromMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    // V8's per-space heap statistics take tens of milliseconds per scrape once the embedded
    // database's WebAssembly memory is in the process; total heap figures stay.
    for (const name of [
      'nodejs_heap_space_size_total_bytes',
      'nodejs_heap_space_size_used_bytes',
      'nodejs_heap_space_size_available_bytes',
    ]) {
      registry.removeSingleMetric(name);
    }
  }
  const requests = new Counter({
    name: 'api_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'path', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'api_request_latency_seconds',
    help: 'HTTP request latency by method and route template',
    labelNames: ['method', 'path'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const launched = new Counter({
    name: 'calls_launched_total',
    help: 'Originate requests handed to a sidecar',
    registers: [registry],
  });
  const success = new Counter({
    name: 'calls_success_total',
    help: 'Originates the PBX accepted (the call is dialing or queued)',
    registers: [registry],
  });
  const failed = new Counter({
    name: 'calls_failed_total',
    help: 'Calls that failed, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const total = new Counter({
    name: 'calls_total',
    help: 'Calls that reached a final status, by status',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const originate = new Histogram({
    name: 'originate_latency_seconds',
    help: 'Time for a sidecar to answer an originate command, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const logins = new Counter({
    name: 'auth_login_attempts_total',
    help: 'Password logins by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const events = new Counter({
    name: 'call_events_received_total',
    help: 'Call events received from sidecars, by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const webhooks = new Counter({
    name: 'webhook_attempts_total',
    help: 'Webhook delivery attempts by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const sse = new Gauge({
    name: 'sse_clients',
    help: 'Open server-sent event streams',
    registers: [registry],
  });
  return {
    enabled: true,
    observeRequest(method, path, status, seconds) {
      requests.inc({ method, path, status: String(status) });
      latency.observe({ method, path }, seconds);
    },
    callLaunched: () => launched.inc(),
    callAccepted: () => success.inc(),
    callFailed: (reason) => failed.inc({ reason }),
    callFinished: (status) => total.inc({ status }),
    observeOriginate: (seconds, outcome) => originate.observe({ outcome }, seconds),
    loginAttempt: (result) => logins.inc({ result }),
    eventsApplied: (result, count) => events.inc({ result }, count),
    webhookAttempt: (result) => webhooks.inc({ result }),
    sseClients: (delta) => sse.inc(delta),
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
