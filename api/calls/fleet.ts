import type { SidecarLoad } from '../../db/queries/misc.ts';
import type { SidecarStatus } from '../shared/contract/index.ts';
import { isSidecarUnreachable, type SidecarClient, SidecarUnreachableError } from './sidecar-client.ts';

/**
 * The sidecars this API sends calls to, each with its own circuit breaker and what its last contact
 * said. Kept per process on Bun and per isolate on Workers: a sidecar's state is what this instance
 * saw of it, while its load is counted from the calls in the database, which every instance shares.
 *
 * - up: usable;
 * - down: its last contact (a command or a status check) failed: skipped until a check succeeds;
 * - breaker_open: this API's breaker for it is open (consecutive failures), or its own ARI breaker
 *   refuses originates: skipped until either closes.
 */
export type SidecarState = 'up' | 'down' | 'breaker_open';

/** Consecutive unreachable answers that open a sidecar's breaker, and how long it stays open. */
const BREAKER_FAILURES = 3;
const BREAKER_HALF_OPEN_MS = 5000;
/** How often a sidecar that failed is checked again (a status command), while calls come in. */
const RECHECK_MS = 2000;
/** A sidecar's capacity while neither its row nor its status has said (the sidecar's own default). */
export const DEFAULT_SIDECAR_CAPACITY = 50;

/**
 * One sidecar's circuit breaker, written out rather than taken from cockatiel (the sidecar's choice):
 * cockatiel aborts an AbortController when its module loads, which Workers refuse at global scope.
 * Closed; open for BREAKER_HALF_OPEN_MS after BREAKER_FAILURES unreachable answers in a row; then
 * half-open, one command let through, whose answer closes it or opens it again.
 */
interface Breaker {
  failures: number;
  /** Open until then (epoch ms); 0 when closed. Past it, the breaker is half-open. */
  openUntil: number;
  /** The one command a half-open breaker lets through is on its way. */
  trial: boolean;
}

interface Member {
  client: SidecarClient;
  breaker: Breaker;
  /** When its last contact failed; null when the last one succeeded. */
  failedAt: number | null;
  /** Its ARI breaker refuses originates until then (epoch ms). */
  pbxRefusingUntil: number;
  /** The MAX_CONCURRENT_CALLS its last status reported. */
  reportedCapacity: number | null;
  checking: boolean;
}

/** A sidecar a call may go to, with the figures it was ranked by. */
export interface FleetCandidate {
  id: string;
  load: number;
  capacity: number;
  state: SidecarState;
}

/** Stores a capacity a sidecar reported that this instance had not seen (in the sidecar's row). */
export type RecordCapacity = (id: string, capacity: number) => Promise<void>;

export interface SidecarFleetOptions {
  now?: () => number;
  random?: () => number;
}

export class SidecarFleet {
  private readonly members = new Map<string, Member>();
  /** Calls this instance chose a sidecar for and has not yet stored: added to the counted load. */
  private readonly reserved = new Map<string, number>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(clients: readonly SidecarClient[], options: SidecarFleetOptions = {}) {
    if (clients.length === 0) throw new Error('a sidecar fleet needs at least one sidecar');
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    for (const client of clients) {
      if (this.members.has(client.id)) throw new Error(`sidecar "${client.id}" is named twice`);
      this.members.set(client.id, {
        client,
        breaker: { failures: 0, openUntil: 0, trial: false },
        failedAt: null,
        pbxRefusingUntil: 0,
        reportedCapacity: null,
        checking: false,
      });
    }
  }

  /** The sidecars' ids, in the configuration's order. */
  get ids(): string[] {
    return [...this.members.keys()];
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  /** The client of a sidecar by id; a call without one (stored before fleets) belongs to the first. */
  clientFor(id: string | null | undefined): SidecarClient | undefined {
    if (id == null) return this.members.values().next().value?.client;
    return this.members.get(id)?.client;
  }

  state(id: string): SidecarState {
    const member = this.member(id);
    const now = this.now();
    if (member.breaker.openUntil > now || member.pbxRefusingUntil > now) return 'breaker_open';
    return member.failedAt === null ? 'up' : 'down';
  }

  /**
   * Runs a command against one sidecar through its breaker. An open breaker refuses at once with a
   * SidecarUnreachableError marked not delivered; unreachable answers count towards opening it.
   */
  async run<T>(id: string, command: (client: SidecarClient) => Promise<T>): Promise<T> {
    const member = this.member(id);
    const { breaker } = member;
    const halfOpen = breaker.openUntil !== 0;
    if (breaker.openUntil > this.now() || (halfOpen && breaker.trial)) {
      throw new SidecarUnreachableError(`sidecar ${id}: circuit breaker open`, { notDelivered: true });
    }
    if (halfOpen) breaker.trial = true;
    try {
      const result = await command(member.client);
      member.failedAt = null;
      breaker.failures = 0;
      breaker.openUntil = 0;
      return result;
    } catch (error) {
      if (isSidecarUnreachable(error)) {
        member.failedAt = this.now();
        breaker.failures++;
        if (halfOpen || breaker.failures >= BREAKER_FAILURES) {
          breaker.openUntil = this.now() + BREAKER_HALF_OPEN_MS;
        }
      }
      throw error;
    } finally {
      if (halfOpen) breaker.trial = false;
    }
  }

  /** Asks a sidecar for its status (through its breaker) and remembers what it said. */
  async status(id: string, record?: RecordCapacity): Promise<SidecarStatus> {
    const status = await this.run(id, (client) => client.status());
    const member = this.member(id);
    if (status.ari.breaker === 'open') this.pbxRefusing(id, status.ari.retry_after_s);
    else member.pbxRefusingUntil = 0;
    const capacity = status.max_concurrent_calls;
    if (capacity !== undefined && capacity !== member.reportedCapacity) {
      member.reportedCapacity = capacity;
      // Recorded again on the next status that finds the figure new to this instance.
      await record?.(id, capacity).catch(() => {
        member.reportedCapacity = null;
      });
    }
    return status;
  }

  /** Its ARI breaker refuses originates for `retryAfterS` seconds (an `unavailable` answer or a status). */
  pbxRefusing(id: string, retryAfterS: number | null): void {
    this.member(id).pbxRefusingUntil = this.now() + Math.max(1, retryAfterS ?? 1) * 1000;
  }

  /**
   * The sidecars a call may go to, best first: usable ones with room by load ratio (ties in random
   * order, so concurrent requests spread), then usable ones at capacity (a sidecar queues calls beyond
   * it, and says `queue_full` when it cannot), then the down or breaker-open ones, as a last resort
   * (their state may be stale; an open breaker refuses at once without sending anything).
   */
  rank(loads: readonly SidecarLoad[]): FleetCandidate[] {
    const byId = new Map(loads.map((l) => [l.id, l]));
    const candidates = this.ids.map((id) => {
      const counted = byId.get(id);
      return {
        id,
        load: (counted?.load ?? 0) + (this.reserved.get(id) ?? 0),
        capacity: this.capacity(id, counted?.capacity ?? null),
        state: this.state(id),
        tie: this.random(),
      };
    });
    const tier = (c: (typeof candidates)[number]) => (c.state !== 'up' ? 2 : c.load >= c.capacity ? 1 : 0);
    candidates.sort(
      (a, b) => tier(a) - tier(b) || a.load / a.capacity - b.load / b.capacity || a.tie - b.tie,
    );
    return candidates.map(({ tie: _, ...c }) => c);
  }

  /** A sidecar's capacity: its row's max_concurrent_calls, else what its status said, else the default. */
  capacity(id: string, recorded: number | null): number {
    return recorded ?? this.member(id).reportedCapacity ?? DEFAULT_SIDECAR_CAPACITY;
  }

  /** Counts a call towards a sidecar's load until `release` (once it is stored under that sidecar). */
  reserve(id: string): () => void {
    this.reserved.set(id, (this.reserved.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.reserved.get(id) ?? 1) - 1;
      if (left > 0) this.reserved.set(id, left);
      else this.reserved.delete(id);
    };
  }

  /**
   * Checks again, in the background, each sidecar that failed more than RECHECK_MS ago, so one that
   * came back is used again without waiting for a readiness probe.
   */
  recheck(background: (task: Promise<unknown>) => void, record?: RecordCapacity): void {
    const now = this.now();
    for (const [id, member] of this.members) {
      if (member.checking || member.failedAt === null || now - member.failedAt < RECHECK_MS) continue;
      member.checking = true;
      background(
        this.status(id, record)
          .catch(() => undefined)
          .finally(() => {
            member.checking = false;
          }),
      );
    }
  }

  private member(id: string): Member {
    const member = this.members.get(id);
    if (!member) throw new Error(`unknown sidecar "${id}"`);
    return member;
  }
}
