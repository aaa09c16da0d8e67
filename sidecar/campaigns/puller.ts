import type { SigningKey } from '../../api/shared/base/keys.ts';
import type { Logger } from '../../api/shared/base/log.ts';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import {
  API_LEASE_PATH,
  LeaseReply,
  type OriginateCommand,
  type OriginateReply,
  sidecarPrincipal,
  TYP_LEASE,
} from '../../api/shared/contract/index.ts';
import { describeError } from '../errors.ts';

export interface PullerOptions {
  key: SigningKey;
  sidecarId: string;
  apiUrl: string;
  apiIssuer: string;
  /** Calls this sidecar can take now (0 while it cannot dial at all). */
  capacity(): number;
  /** Runs a leased originate: the path a command from the API takes. */
  originate(command: OriginateCommand): Promise<OriginateReply>;
  log: Logger;
  /** Wait while full, before looking at the capacity again. */
  fullWaitMs?: number;
  /**
   * While full, a lease for nothing this often: the API hears from this sidecar (and keeps its calls
   * up) when no call has ended for a while.
   */
  heartbeatMs?: number;
  /** Backoff after a failed lease request. */
  errorInitialMs?: number;
  errorMaxMs?: number;
  requestTimeoutMs?: number;
}

/**
 * Pulls due campaign attempts from the API whenever this sidecar has room: a signed lease request
 * (typ TYP_LEASE) for as many calls as it can take, each returned command run exactly as an
 * originate command from the API. Nothing due: it waits as long as the API says (next_poll_ms); a
 * failed request: jittered exponential backoff. stop() ends the loop and any request in flight, and
 * waits for the leased originates still running.
 */
export class CampaignPuller {
  private stopped = false;
  private loop: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private wakeUp: (() => void) | null = null;
  private lastLeaseAt = 0;
  private readonly originating = new Set<Promise<void>>();

  constructor(private readonly o: PullerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wakeUp?.();
    await this.loop;
    await Promise.all(this.originating);
  }

  /** Runs a leased command; stop() waits for the ones still running. */
  private track(command: OriginateCommand): void {
    const running: Promise<void> = this.o
      .originate(command)
      .then(
        () => undefined,
        (error) =>
          this.o.log.error('leased originate failed', {
            call_id: command.call_id,
            error: describeError(error),
          }),
      )
      .finally(() => this.originating.delete(running));
    this.originating.add(running);
  }

  private async run(): Promise<void> {
    const initial = this.o.errorInitialMs ?? 500;
    const max = this.o.errorMaxMs ?? 15_000;
    let failures = 0;
    while (!this.stopped) {
      const capacity = this.o.capacity();
      if (capacity <= 0) {
        if (Date.now() - this.lastLeaseAt >= (this.o.heartbeatMs ?? 5000)) {
          this.lastLeaseAt = Date.now();
          await this.lease(0).catch((error) => {
            if (!this.stopped)
              this.o.log.warn('campaign lease failed', { error: describeError(error), capacity: 0 });
          });
        }
        await this.sleep(this.o.fullWaitMs ?? 250);
        continue;
      }
      let reply: LeaseReply;
      let answeredAt: number;
      try {
        this.lastLeaseAt = Date.now();
        reply = await this.lease(capacity);
        answeredAt = Date.now();
        failures = 0;
      } catch (error) {
        if (this.stopped) break;
        failures++;
        const wait = Math.min(max, initial * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
        this.o.log.warn('campaign lease failed', {
          error: describeError(error),
          retry_in_ms: Math.round(wait),
        });
        await this.sleep(wait);
        continue;
      }
      if (reply.commands.length > 0) {
        this.o.log.info('campaign attempts leased', { count: reply.commands.length });
        // Not awaited: each originate takes its place in the capacity at once (it is live or
        // queued before its first await), and waiting for the slowest reply of a batch before the
        // next lease would hold a campaign's pace to one batch per ARI round trip.
        for (const command of reply.commands) this.track(command);
      }
      // A full answer means more may be due at once; otherwise wait as long as the API says, counted
      // from its answer: the originates just run took part of that wait (at a campaign's full pace,
      // waiting all of it after them would dial a second's worth every second plus their time).
      if (reply.commands.length < capacity) await this.sleep(reply.next_poll_ms - (Date.now() - answeredAt));
    }
  }

  private async lease(capacity: number): Promise<LeaseReply> {
    const body = JSON.stringify({ sidecar_id: this.o.sidecarId, capacity });
    const token = await signChannelMessage({
      key: this.o.key,
      issuer: sidecarPrincipal(this.o.sidecarId),
      audience: this.o.apiIssuer,
      typ: TYP_LEASE,
      method: 'POST',
      path: API_LEASE_PATH,
      body,
    });
    const controller = new AbortController();
    this.abort = controller;
    const timer = setTimeout(() => controller.abort(), this.o.requestTimeoutMs ?? 10_000);
    try {
      const response = await fetch(`${this.o.apiUrl}${API_LEASE_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
        signal: controller.signal,
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`the API answered ${response.status}: ${text.slice(0, 200)}`);
      return LeaseReply.parse(JSON.parse(text));
    } finally {
      clearTimeout(timer);
      this.abort = null;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
