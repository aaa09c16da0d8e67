/** The fault proxy's public types (see test/harness/fault-proxy.ts). */

export type Direction = 'up' | 'down' | 'both';

export type Fault =
  | { kind: 'pass' }
  | { kind: 'latency'; ms: number; jitterMs?: number; direction?: Direction }
  | { kind: 'bandwidth'; bytesPerSecond: number; direction?: Direction }
  | { kind: 'blackhole' }
  | { kind: 'half-open'; direction?: Direction }
  | { kind: 'reset'; refuse?: boolean };

/** What a connection looks like to `match` and to `connections()`. */
export interface ConnectionInfo {
  readonly id: number;
  readonly openedAt: number;
  /** The first line the client sent ('' until it sent something), e.g. `GET /ari/events?… HTTP/1.1`. */
  readonly head: string;
  /** Bytes delivered client → target and target → client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Directions that no longer carry data (blackhole, half-open). */
  readonly deadUp: boolean;
  readonly deadDown: boolean;
}

export interface FaultOptions {
  /** Only connections for which this holds (evaluated again once the client's first line is known). */
  match?: (connection: ConnectionInfo) => boolean;
}

export interface FaultProxyStats {
  accepted: number;
  active: number;
  /** Connections this proxy reset (RST) or refused to carry because of a fault. */
  resets: number;
  /** Bytes dropped by blackhole and half-open, client → target and target → client. */
  swallowedUp: number;
  swallowedDown: number;
  bytesUp: number;
  bytesDown: number;
}

export interface FaultProxy {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `host:port` of this proxy. */
  readonly address: string;
  /** A URL through this proxy: `url('http', '/ari')` → `http://127.0.0.1:port/ari`. */
  url(scheme?: string, path?: string): string;
  readonly target: { host: string; port: number };
  /** The fault now in force. */
  readonly fault: Fault;
  set(fault: Fault, options?: FaultOptions): void;
  /** Back to `pass` (connections already dead stay dead). */
  pass(): void;
  /** Ends every current connection with a FIN on both sides; new connections are unaffected. */
  closeAll(): void;
  connections(): ConnectionInfo[];
  stats(): FaultProxyStats;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Where to forward: `{ host, port }` or a URL (`http://127.0.0.1:5432`, `postgres://…`). */
  target: { host?: string; port: number } | string;
  /** Port to listen on (0, the default, picks a free one). */
  port?: number;
  /** Only loopback: `127.0.0.1` (default) or `::1`. */
  host?: string;
  /** For messages. */
  name?: string;
}
