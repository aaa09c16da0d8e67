import type { Logger } from '../../api/shared/base/log.ts';
import type { AriClient } from '../ari/http.ts';
import type { SidecarConfig, Tuning } from '../config.ts';
import type { FlowRequester } from '../flow/request.ts';
import type { Metrics } from '../metrics.ts';
import type { RateLimiter } from '../pacing.ts';
import type { Store } from '../store.ts';

/** What the engine needs of ARI (an AriClient; a fake in unit tests). */
export type AriPort = Pick<
  AriClient,
  'originate' | 'getChannel' | 'listChannels' | 'hangup' | 'breakerState' | 'retryAfterS' | 'request'
>;

export interface EngineOptions {
  config: SidecarConfig;
  tuning: Tuning;
  store: Store;
  ari: AriPort;
  limiter: RateLimiter;
  metrics: Metrics;
  log: Logger;
  /** Whether the events socket is open: without it, a call's events would be lost. */
  eventsConnected: () => boolean;
  /** New rows are in the outbox. */
  onEvents: () => void;
  /** Runs a flow's `request` step through the API (sidecar/flow/request.ts). */
  flowRequester?: FlowRequester;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
