/**
 * What the API measures. The Bun entry backs it with prom-client; Workers, which have no
 * long-lived process to scrape, get the no-op version (see api/deploy/README.md, "What differs from Bun").
 */
export interface Metrics {
  readonly enabled: boolean;
  observeRequest(method: string, path: string, status: number, seconds: number): void;
  callLaunched(): void;
  callAccepted(): void;
  callFailed(reason: string): void;
  callFinished(status: string): void;
  observeOriginate(seconds: number, outcome: string): void;
  loginAttempt(result: 'success' | 'failure' | 'locked' | 'busy'): void;
  eventsApplied(result: string, count: number): void;
  webhookAttempt(result: 'delivered' | 'retry' | 'failed'): void;
  sseClients(delta: number): void;
  /** Prometheus text exposition, or null when metrics are off. */
  render(): Promise<{ contentType: string; body: string } | null>;
}

export const noopMetrics: Metrics = {
  enabled: false,
  observeRequest() {},
  callLaunched() {},
  callAccepted() {},
  callFailed() {},
  callFinished() {},
  observeOriginate() {},
  loginAttempt() {},
  eventsApplied() {},
  webhookAttempt() {},
  sseClients() {},
  async render() {
    return null;
  },
};
