import { closeLiveStreams, openLiveStream, renewLiveStreams } from '../../db/queries/live.ts';
import type { Db } from '../../db/types.ts';
import type { Logger } from '../shared/base/log.ts';

/**
 * The per-user cap on open live streams, counted in the database so that it holds across instances
 * (db/queries/live.ts, openLiveStream). Each stream holds a row that this instance renews while the
 * stream runs and deletes when it ends; rows of an instance that died expire after `ttlSeconds`.
 * One user's streams are admitted one at a time here, so a burst of them costs at most one round
 * trip at a time, and once this instance alone holds the user's cap the rest are refused without one.
 */
export class StreamLeases {
  private readonly held = new Map<string, string>();
  private readonly perUser = new Map<string, number>();
  private readonly turns = new Map<string, Promise<unknown>>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly db: Db,
    private readonly options: { max: number; ttlSeconds: number; logger: Logger },
  ) {}

  /** A lease id when `userId` may open one more stream, null when the cap is reached. */
  acquire(userId: string): Promise<string | null> {
    const turn = (this.turns.get(userId) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.take(userId));
    this.turns.set(userId, turn);
    const forget = () => {
      if (this.turns.get(userId) === turn) this.turns.delete(userId);
    };
    turn.then(forget, forget);
    return turn;
  }

  async release(id: string): Promise<void> {
    const userId = this.held.get(id);
    if (userId === undefined) return;
    this.held.delete(id);
    const left = (this.perUser.get(userId) ?? 1) - 1;
    if (left > 0) this.perUser.set(userId, left);
    else this.perUser.delete(userId);
    if (this.held.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
    // Not deleted (the database is down): the row expires by itself.
    await closeLiveStreams(this.db, [id]).catch((error) =>
      this.options.logger.warn('could not release a live stream lease', { error }),
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.held.keys()].map((id) => this.release(id)));
  }

  private async take(userId: string): Promise<string | null> {
    if ((this.perUser.get(userId) ?? 0) >= this.options.max) return null;
    const id = crypto.randomUUID();
    const ok = await openLiveStream(this.db, {
      id,
      userId,
      ttlSeconds: this.options.ttlSeconds,
      max: this.options.max,
    });
    if (!ok) return null;
    this.held.set(id, userId);
    this.perUser.set(userId, (this.perUser.get(userId) ?? 0) + 1);
    this.timer ??= setInterval(() => this.renew(), (this.options.ttlSeconds * 1000) / 3);
    return id;
  }

  private renew() {
    renewLiveStreams(this.db, [...this.held.keys()], this.options.ttlSeconds).catch((error) =>
      this.options.logger.warn('could not renew live stream leases', { error }),
    );
  }
}
