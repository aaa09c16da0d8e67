import { afterEach, describe, expect, test } from 'bun:test';
import type { Socket } from 'bun';
import { type FaultProxy, startFaultProxy } from '../harness/fault-proxy.ts';

/** The fault proxy itself, mode by mode, between a raw TCP client and a recording echo server. */

interface Peer {
  received: string;
  ended: boolean;
  closed: boolean;
  closeError: Error | null;
}

interface Target {
  port: number;
  /** Every connection the target accepted, in order. */
  peers: (Peer & { socket: Socket<Peer> })[];
  /** Echo what arrives (default) or keep quiet. */
  echo: boolean;
  stop(): void;
}

function startTarget(): Target {
  const target: Target = {
    port: 0,
    peers: [],
    echo: true,
    stop: () => listener.stop(true),
  };
  const listener = Bun.listen<Peer>({
    hostname: '127.0.0.1',
    port: 0,
    allowHalfOpen: true,
    socket: {
      binaryType: 'uint8array',
      open(socket) {
        socket.data = { received: '', ended: false, closed: false, closeError: null };
        target.peers.push(Object.assign(socket.data, { socket }));
      },
      data(socket, data) {
        socket.data.received += new TextDecoder().decode(data);
        if (target.echo) socket.write(data);
      },
      end(socket) {
        socket.data.ended = true;
        socket.end();
      },
      close(socket, error) {
        socket.data.closed = true;
        socket.data.closeError = error ?? null;
      },
      error() {},
    },
  });
  target.port = listener.port;
  return target;
}

interface Client extends Peer {
  socket: Socket<Peer>;
  write(text: string | Uint8Array): void;
  /** Times (performance.now()) at which data arrived, with its size. */
  arrivals: { at: number; bytes: number }[];
}

async function connect(port: number): Promise<Client> {
  const state = { received: '', ended: false, closed: false, closeError: null as Error | null };
  const arrivals: { at: number; bytes: number }[] = [];
  const socket = await Bun.connect<Peer>({
    hostname: '127.0.0.1',
    port,
    data: state,
    allowHalfOpen: true,
    socket: {
      binaryType: 'uint8array',
      data(_s, data) {
        state.received += new TextDecoder().decode(data);
        arrivals.push({ at: performance.now(), bytes: data.length });
      },
      end() {
        state.ended = true;
      },
      close(_s, error) {
        state.closed = true;
        state.closeError = error ?? null;
      },
      error() {},
    },
  });
  return Object.assign(state, {
    socket,
    arrivals,
    write(text: string | Uint8Array) {
      socket.write(text);
    },
  });
}

async function until(what: string, predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** Nothing of the kind happens for `ms`: the proof that a dead connection stays quiet. */
async function stays(what: string, predicate: () => boolean, ms = 300): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    expect({ what, holds: predicate() }).toEqual({ what, holds: true });
    await Bun.sleep(10);
  }
}

let target: Target;
let proxy: FaultProxy;
const clients: Client[] = [];

async function setup() {
  target = startTarget();
  proxy = await startFaultProxy({ target: { port: target.port }, name: 'test' });
}

async function client(): Promise<Client> {
  const c = await connect(proxy.port);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) if (!c.closed) c.socket.terminate();
  await proxy?.stop();
  target?.stop();
});

describe('pass', () => {
  test('bytes flow both ways and a FIN is carried through in each direction', async () => {
    await setup();
    const c = await client();
    c.write('hello');
    await until('the echo', () => c.received === 'hello');
    expect(target.peers[0]!.received).toBe('hello');
    c.socket.end();
    await until('the FIN at the target', () => target.peers[0]!.ended);
    await until('the target’s FIN back', () => c.ended || c.closed);
    const stats = proxy.stats();
    expect([stats.bytesUp, stats.bytesDown, stats.accepted]).toEqual([5, 5, 1]);
  });

  test('a large stream arrives whole and in order', async () => {
    await setup();
    const c = await client();
    const text = Array.from({ length: 50_000 }, (_, i) => `${i},`).join('');
    c.write(text);
    await until('the whole echo', () => c.received.length >= text.length, 10_000);
    expect(c.received).toBe(text);
  });
});

describe('latency', () => {
  test('each direction is held the given time; both directions add up', async () => {
    await setup();
    const c = await client();
    c.write('warm');
    await until('warm-up echo', () => c.received === 'warm');

    proxy.set({ kind: 'latency', ms: 150, direction: 'down' });
    let sent = performance.now();
    c.write('a');
    await until('echo a', () => c.received === 'warma');
    const down = performance.now() - sent;
    expect(down).toBeGreaterThanOrEqual(145);

    proxy.set({ kind: 'latency', ms: 150 });
    sent = performance.now();
    c.write('b');
    // Up: the target has it only after 150 ms.
    await Bun.sleep(100);
    expect(target.peers[0]!.received).toBe('warma');
    await until('echo b', () => c.received === 'warmab');
    expect(performance.now() - sent).toBeGreaterThanOrEqual(295);

    proxy.pass();
    sent = performance.now();
    c.write('c');
    await until('echo c', () => c.received === 'warmabc');
    expect(performance.now() - sent).toBeLessThan(145);
  });

  test('jitter never reorders bytes', async () => {
    await setup();
    const c = await client();
    proxy.set({ kind: 'latency', ms: 5, jitterMs: 40 });
    const expected: string[] = [];
    for (let i = 0; i < 200; i++) {
      expected.push(`<${i}>`);
      c.write(`<${i}>`);
      if (i % 20 === 0) await Bun.sleep(3);
    }
    await until('all 200 echoed', () => c.received.length === expected.join('').length, 5000);
    expect(c.received).toBe(expected.join(''));
  });

  test('a FIN waits behind the delayed bytes', async () => {
    await setup();
    const c = await client();
    c.write('x');
    await until('echo', () => c.received === 'x');
    proxy.set({ kind: 'latency', ms: 200, direction: 'up' });
    c.write('last words');
    c.socket.end();
    await Bun.sleep(100);
    expect(target.peers[0]!.ended).toBe(false);
    await until('the FIN at the target', () => target.peers[0]!.ended);
    expect(target.peers[0]!.received).toBe('xlast words');
  });
});

describe('bandwidth', () => {
  test('bytes per second bound the throughput in the throttled direction only', async () => {
    await setup();
    const c = await client();
    target.echo = false;
    proxy.set({ kind: 'bandwidth', bytesPerSecond: 20_000, direction: 'up' });
    const payload = 'z'.repeat(10_000);
    const sent = performance.now();
    c.write(payload);
    await Bun.sleep(200);
    // About 4,000 bytes may have passed by now; never all of them.
    const early = target.peers[0]!.received.length;
    expect(early).toBeGreaterThan(0);
    expect(early).toBeLessThan(payload.length);
    await until('the payload at the target', () => target.peers[0]!.received.length === payload.length, 5000);
    expect(performance.now() - sent).toBeGreaterThanOrEqual(450);

    // The other direction is not throttled.
    const back = performance.now();
    target.peers[0]!.socket.write(payload);
    await until('the payload back', () => c.received.length === payload.length);
    expect(performance.now() - back).toBeLessThan(450);
  });
});

describe('blackhole', () => {
  test('current connections go silent both ways, new ones are accepted and never answered', async () => {
    await setup();
    const old = await client();
    old.write('before');
    await until('echo', () => old.received === 'before');

    proxy.set({ kind: 'blackhole' });
    old.write('into the void');
    target.peers[0]!.socket.write('from the target');
    const fresh = await client();
    fresh.write('anyone?');
    await stays(
      'silence, no FIN, no RST',
      () =>
        old.received === 'before' &&
        target.peers[0]!.received === 'before' &&
        !old.closed &&
        !old.ended &&
        !fresh.closed &&
        fresh.received === '' &&
        !target.peers[0]!.closed,
    );
    // Accepted, but nothing was connected behind it.
    expect(target.peers.length).toBe(1);
    expect(proxy.stats().swallowedUp).toBeGreaterThanOrEqual('into the voidanyone?'.length);

    // Lifted: new connections work, the ones that met the blackhole stay dead.
    proxy.pass();
    const after = await client();
    after.write('back');
    await until('echo after', () => after.received === 'back');
    old.write('still there?');
    fresh.write('and me?');
    await stays('the old ones stay dead', () => old.received === 'before' && fresh.received === '', 200);
  });
});

describe('half-open', () => {
  test('down: the target gets the client’s bytes, the client gets nothing; nobody is closed', async () => {
    await setup();
    const c = await client();
    c.write('1');
    await until('echo', () => c.received === '1');
    proxy.set({ kind: 'half-open', direction: 'down' });
    c.write('2');
    await until('2 at the target', () => target.peers[0]!.received === '12');
    await stays('no echo, no close', () => c.received === '1' && !c.closed && !target.peers[0]!.closed);
    expect(proxy.connections()[0]).toMatchObject({ deadUp: false, deadDown: true });
    // A FIN from the target into the dead direction is swallowed as well.
    target.peers[0]!.socket.end();
    await stays('no FIN reaches the client', () => !c.ended && !c.closed, 200);

    // New connections pass.
    const fresh = await client();
    fresh.write('new');
    await until('echo on a new connection', () => fresh.received === 'new');
  });

  test('up: the client’s bytes stop, the target’s still arrive', async () => {
    await setup();
    const c = await client();
    c.write('1');
    await until('echo', () => c.received === '1');
    proxy.set({ kind: 'half-open', direction: 'up' });
    c.write('2');
    target.peers[0]!.socket.write('push');
    await until('the target’s push', () => c.received === '1push');
    await stays('nothing reached the target', () => target.peers[0]!.received === '1');
    c.socket.end();
    await stays('the client’s FIN is swallowed', () => !target.peers[0]!.ended, 200);
  });

  test('match narrows it to some connections: by the first line the client sent', async () => {
    await setup();
    const events = await client();
    const plain = await client();
    events.write('GET /ari/events?app=x HTTP/1.1\r\n\r\n');
    plain.write('GET /ari/channels HTTP/1.1\r\n\r\n');
    await until('both echoed', () => events.received.length > 0 && plain.received.length > 0);
    proxy.set({ kind: 'half-open' }, { match: (c) => c.head.startsWith('GET /ari/events') });
    events.write('ping');
    plain.write('ping');
    await until('plain still echoes', () => plain.received.endsWith('ping'));
    await stays('the events connection is dead', () => !events.received.endsWith('ping'));
    expect(proxy.connections().map((c) => [c.head.split(' ')[1], c.deadUp, c.deadDown])).toEqual([
      ['/ari/events?app=x', true, true],
      ['/ari/channels', false, false],
    ]);
  });
});

describe('reset', () => {
  test('current connections are reset on both sides; new ones are reset at once', async () => {
    await setup();
    const c = await client();
    c.write('hi');
    await until('echo', () => c.received === 'hi');
    proxy.set({ kind: 'reset' });
    await until('the client closed', () => c.closed);
    expect(c.ended).toBe(false);
    expect(c.closeError).not.toBeNull();
    await until('the target closed', () => target.peers[0]!.closed);
    expect(target.peers[0]!.ended).toBe(false);

    const next = await client();
    await until('the new one reset', () => next.closed);
    expect(next.closeError).not.toBeNull();
    expect(target.peers.length).toBe(1);

    proxy.pass();
    const after = await client();
    after.write('ok');
    await until('echo after', () => after.received === 'ok');
    expect(proxy.stats().resets).toBe(2);
  });

  test('refuse: the port stops listening until the fault changes', async () => {
    await setup();
    proxy.set({ kind: 'reset', refuse: true });
    const refused = await connect(proxy.port).then(
      () => 'connected',
      (error: Error & { code?: string }) => error.code ?? error.message,
    );
    expect(refused).toBe('ECONNREFUSED');
    proxy.pass();
    const c = await client();
    c.write('again');
    await until('echo', () => c.received === 'again');
  });
});

describe('closeAll', () => {
  test('ends every current connection with a FIN both ways; new ones work', async () => {
    await setup();
    const a = await client();
    const b = await client();
    a.write('a');
    b.write('b');
    await until('echoes', () => a.received === 'a' && b.received === 'b');
    proxy.closeAll();
    await until('both clients see the FIN', () => (a.ended || a.closed) && (b.ended || b.closed));
    expect([a.closeError, b.closeError]).toEqual([null, null]);
    await until('the target sees both FINs', () => target.peers.every((p) => p.ended || p.closed));
    const c = await client();
    c.write('c');
    await until('echo', () => c.received === 'c');
  });
});

describe('target down', () => {
  test('a refused target resets the client', async () => {
    await setup();
    target.stop();
    const c = await client();
    await until('the client reset', () => c.closed);
    expect(c.received).toBe('');
  });
});
