import type { OriginateReply } from '../../api/shared/contract/index.ts';
import { describeError } from '../errors.ts';
import type { CallRow } from '../store.ts';
import type { CallBook } from './book.ts';
import type { EngineOptions } from './options.ts';

/**
 * The pacing queue's pump: starts queued calls while there is capacity, ARI is usable and the
 * events socket is open, one pacing slot each. One loop runs at a time; a call to `pump` while it
 * runs makes it look again once done.
 */
export class QueuePump {
  private running = false;
  private again = false;

  constructor(
    private readonly o: EngineOptions,
    private readonly book: CallBook,
    private readonly startDial: (call: CallRow, origin: 'queue') => Promise<OriginateReply>,
  ) {}

  pump(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop()
      .catch((error) => this.o.log.error('pacing queue failed', { error: describeError(error) }))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.pump();
        }
      });
  }

  private canPump(): boolean {
    return (
      !this.book.stopped &&
      this.book.queue.length > 0 &&
      this.o.eventsConnected() &&
      this.o.ari.breakerState() !== 'open' &&
      this.book.liveCount() < this.o.config.maxConcurrentCalls
    );
  }

  private async loop(): Promise<void> {
    while (this.canPump()) {
      try {
        await this.o.limiter.acquire();
      } catch {
        return; // closed: stopping
      }
      // Things may have changed while waiting for the slot; the slot is then simply unused.
      if (!this.canPump()) {
        this.o.limiter.done();
        return;
      }
      const call = this.book.queue.shift()!;
      call.state = 'originating';
      call.queueSeq = null;
      this.book.commit(call, []);
      this.startDial(call, 'queue').catch((error) =>
        this.o.log.error('originate from the queue failed', {
          call_id: call.callId,
          error: describeError(error),
        }),
      );
    }
  }
}
