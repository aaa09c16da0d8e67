import type { FlowAriEvent } from './ari-events.ts';

/** A wait that ended without its event: the time ran out, or the flow stopped (hang-up, limit). */
export class WaitEnded extends Error {
  override name = 'WaitEnded';
  constructor(readonly why: 'timeout' | 'stopped') {
    super(why === 'timeout' ? 'no event in time' : 'the flow stopped');
  }
}

interface Waiter {
  pick(event: FlowAriEvent): boolean;
  resolve(event: FlowAriEvent): void;
  reject(error: WaitEnded): void;
}

/**
 * One call's ARI events as its flow waits on them: a wait names the event it wants and how long it
 * waits; an event nobody waits for is dropped, except through `listen` (barge-in reads every key
 * while a prompt plays). `stop()` ends every wait at once.
 */
export class FlowInbox {
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<(event: FlowAriEvent) => void>();
  private stopped = false;

  deliver(event: FlowAriEvent): void {
    for (const listener of [...this.listeners]) listener(event);
    for (const waiter of [...this.waiters]) {
      if (waiter.pick(event)) {
        this.waiters.delete(waiter);
        waiter.resolve(event);
      }
    }
  }

  /** The first event `pick` accepts, within `timeoutMs`. */
  next<T extends FlowAriEvent>(pick: (event: FlowAriEvent) => event is T, timeoutMs: number): Promise<T>;
  next(pick: (event: FlowAriEvent) => boolean, timeoutMs: number): Promise<FlowAriEvent>;
  next(pick: (event: FlowAriEvent) => boolean, timeoutMs: number): Promise<FlowAriEvent> {
    if (this.stopped) return Promise.reject(new WaitEnded('stopped'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new WaitEnded('timeout'));
      }, timeoutMs);
      const waiter: Waiter = {
        pick,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Calls `listener` with every event until the returned function is called. */
  listen(listener: (event: FlowAriEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.listeners.clear();
    for (const waiter of [...this.waiters]) waiter.reject(new WaitEnded('stopped'));
    this.waiters.clear();
  }
}
