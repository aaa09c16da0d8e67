/**
 * The listener's life: `core restart now` / `kill -9` (sockets dropped without a close frame,
 * the port refusing for a while, a fresh Asterisk afterwards) and a clean stop.
 */
import type { Server } from 'bun';
import type { Engine } from '../engine.ts';
import type { RestartOptions } from '../server.ts';
import type { HttpFaults } from './control.ts';
import type { EventSockets, WsData } from './events-socket.ts';

export class Lifecycle {
  /** While set, requests are held unanswered (Asterisk shutting down, or the port closing). */
  holding = false;
  private stopped = false;
  private restarting: Promise<void> | null = null;
  private server: Server<WsData>;
  readonly port: number;

  constructor(
    private readonly engine: Engine,
    private readonly sockets: EventSockets,
    private readonly faults: HttpFaults,
    private readonly listen: (port: number) => Server<WsData>,
    private readonly timeScale: number,
    private readonly log: (line: string) => void,
    port: number,
  ) {
    this.server = listen(port);
    this.port = this.server.port as number;
  }

  restart(opts: RestartOptions = {}): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.restarting) {
      this.restarting = this.doRestart(opts).finally(() => {
        this.restarting = null;
      });
    }
    return this.restarting;
  }

  private async doRestart(opts: RestartOptions): Promise<void> {
    const { engine } = this;
    const downMs = opts.downMs ?? Math.round(1000 * this.timeScale);
    this.log(JSON.stringify({ sim: 'restart', downMs, withLiveCallDelayMs: opts.withLiveCallDelayMs ?? 0 }));
    this.holding = true;
    if (opts.withLiveCallDelayMs && engine.liveChannelCount > 0 && engine.bus.hasSubscribeAllApp()) {
      engine.freeze();
      await Bun.sleep(opts.withLiveCallDelayMs);
      engine.shutdownCalls();
      // Let the last events leave before the connections drop.
      await Bun.sleep(5);
    }
    this.sockets.terminateAll();
    engine.reset();
    await this.server.stop(true);
    this.faults.release();
    if (downMs > 0) await Bun.sleep(downMs);
    if (this.stopped) return;
    this.server = this.listen(this.port);
    this.holding = false;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.holding = true;
    await this.restarting?.catch(() => {});
    this.engine.reset();
    this.sockets.closeAll(1001, 'shutdown');
    await this.server.stop(true);
    this.faults.release();
  }
}
