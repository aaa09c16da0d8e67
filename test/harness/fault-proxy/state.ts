import type { Socket } from 'bun';
import { Pipe, type Shape } from './pipe.ts';
import type { ConnectionInfo, Direction, Fault, FaultProxyStats } from './types.ts';

/** One proxied connection: the client's socket, the target's, and a pipe each way. */
export interface Conn {
  id: number;
  openedAt: number;
  head: string;
  client: Socket<Conn>;
  upstream: Socket<Conn> | null;
  up: Pipe;
  down: Pipe;
  deadUp: boolean;
  deadDown: boolean;
  clientOpen: boolean;
  upstreamOpen: boolean;
  /** Sticky faults are checked once more when the first line arrives (for `match`). */
  headChecked: boolean;
}

interface Rule {
  fault: Fault;
  match: ((connection: ConnectionInfo) => boolean) | null;
}

export function applies(direction: Direction | undefined, which: 'up' | 'down'): boolean {
  return (direction ?? 'both') === 'both' || direction === which;
}

/** The proxy's connections, the fault in force, and what the faults did to them. */
export class ProxyState {
  readonly conns = new Map<number, Conn>();
  rule: Rule = { fault: { kind: 'pass' }, match: null };
  readonly counters = { accepted: 0, resets: 0, swallowedUp: 0, swallowedDown: 0 };
  private nextId = 1;
  /** Bytes delivered by connections already forgotten. */
  private readonly closed = { up: 0, down: 0 };

  /** A new connection from `client`, counted and kept. */
  open(client: Socket<Conn>): Conn {
    this.counters.accepted += 1;
    const c: Conn = {
      id: this.nextId++,
      openedAt: Date.now(),
      head: '',
      client,
      upstream: null,
      up: new Pipe(),
      down: new Pipe(),
      deadUp: false,
      deadDown: false,
      clientOpen: true,
      upstreamOpen: false,
      headChecked: this.rule.match === null,
    };
    c.up.source = client;
    c.down.dest = client;
    this.conns.set(c.id, c);
    return c;
  }

  info(c: Conn): ConnectionInfo {
    return {
      id: c.id,
      openedAt: c.openedAt,
      head: c.head,
      bytesUp: c.up.delivered,
      bytesDown: c.down.delivered,
      deadUp: c.deadUp,
      deadDown: c.deadDown,
    };
  }

  matches(c: Conn): boolean {
    return this.rule.match === null || this.rule.match(this.info(c));
  }

  /** Drops a connection closed on both sides, keeping its byte counts. */
  forget(c: Conn): void {
    if (c.clientOpen || c.upstreamOpen) return;
    if (this.conns.delete(c.id)) {
      this.closed.up += c.up.delivered;
      this.closed.down += c.down.delivered;
    }
  }

  /** RST on both sides. */
  reset(c: Conn): void {
    this.counters.resets += 1;
    c.up.discard();
    c.down.discard();
    if (c.clientOpen) c.client.terminate();
    if (c.upstreamOpen) c.upstream?.terminate();
  }

  /** Stops the directions given from carrying data, for good. */
  kill(c: Conn, up: boolean, down: boolean): void {
    if (up && !c.deadUp) {
      c.deadUp = true;
      this.counters.swallowedUp += c.up.discard();
    }
    if (down && !c.deadDown) {
      c.deadDown = true;
      this.counters.swallowedDown += c.down.discard();
    }
  }

  /** Sticky faults on one connection; true when the connection was reset. */
  applySticky(c: Conn): boolean {
    const f = this.rule.fault;
    if (!this.matches(c)) return false;
    if (f.kind === 'reset') {
      this.reset(c);
      return true;
    }
    if (f.kind === 'blackhole') this.kill(c, true, true);
    return false;
  }

  /** Latency or bandwidth for one direction of a connection, if the fault shapes it. */
  shapeFor(c: Conn, which: 'up' | 'down'): Shape | null {
    const f = this.rule.fault;
    if (f.kind !== 'latency' && f.kind !== 'bandwidth') return null;
    if (!applies(f.direction, which) || !this.matches(c)) return null;
    return f.kind === 'latency'
      ? { latencyMs: f.ms, jitterMs: f.jitterMs ?? 0, bytesPerSecond: 0 }
      : { latencyMs: 0, jitterMs: 0, bytesPerSecond: f.bytesPerSecond };
  }

  /** Puts `fault` in force and applies it to the connections still open. */
  setRule(fault: Fault, match: Rule['match']): void {
    this.rule = { fault, match };
    for (const c of this.conns.values()) {
      if (!c.clientOpen && !c.upstreamOpen) continue;
      if (fault.kind === 'half-open') {
        if (this.matches(c)) this.kill(c, applies(fault.direction, 'up'), applies(fault.direction, 'down'));
      } else {
        this.applySticky(c);
      }
    }
  }

  /** Ends every connection: with a FIN (`end`) or an RST (`terminate`), forgetting them on RST. */
  closeAll(how: 'end' | 'terminate'): void {
    for (const c of this.conns.values()) {
      c.up.discard();
      c.down.discard();
      if (c.clientOpen) c.client[how]();
      if (c.upstreamOpen) c.upstream?.[how]();
    }
    if (how === 'terminate') this.conns.clear();
  }

  stats(): FaultProxyStats {
    let up = this.closed.up;
    let down = this.closed.down;
    for (const c of this.conns.values()) {
      up += c.up.delivered;
      down += c.down.delivered;
    }
    return {
      accepted: this.counters.accepted,
      active: [...this.conns.values()].filter((c) => c.clientOpen).length,
      resets: this.counters.resets,
      swallowedUp: this.counters.swallowedUp,
      swallowedDown: this.counters.swallowedDown,
      bytesUp: up,
      bytesDown: down,
    };
  }
}
