import type { Socket } from 'bun';
import type { Conn, ProxyState } from './state.ts';

/** The socket handlers of both sides of a proxied connection: the client's and the target's. */

type Target = { host: string; port: number };

/** Opens the connection to the target for `c`; what arrives goes down the `down` pipe. */
function connectUpstream(state: ProxyState, target: Target, c: Conn): void {
  Bun.connect<Conn>({
    hostname: target.host,
    port: target.port,
    data: c,
    allowHalfOpen: true,
    socket: {
      binaryType: 'uint8array',
      open(socket) {
        c.upstream = socket;
        c.upstreamOpen = true;
        if (!c.clientOpen) {
          // The client left while we were connecting.
          if (c.deadUp) return; // the target never learns, as with a lost FIN
          socket.end();
          return;
        }
        c.up.dest = socket;
        c.down.source = socket;
        c.up.flow();
      },
      data(_socket, data) {
        if (c.deadDown) {
          state.counters.swallowedDown += data.length;
          return;
        }
        c.down.push(data, state.shapeFor(c, 'down'));
      },
      drain() {
        c.up.flow();
      },
      end() {
        if (!c.deadDown) c.down.end();
      },
      close(_socket, error) {
        c.upstreamOpen = false;
        if (!c.deadDown && c.clientOpen) {
          if (error) {
            c.down.discard();
            c.client.terminate();
          } else {
            c.down.end();
          }
        }
        state.forget(c);
      },
      connectError() {
        c.upstreamOpen = false;
        // A refused target looks like a reset through a proxy.
        if (c.clientOpen && !c.deadDown) c.client.terminate();
        state.forget(c);
      },
      error() {},
    },
  }).catch(() => undefined);
}

/** The listener's handlers: each accepted client gets a connection to the target. */
export function clientHandlers(state: ProxyState, target: Target) {
  return {
    binaryType: 'uint8array' as const,
    open(socket: Socket<Conn>) {
      const c = state.open(socket);
      socket.data = c;
      if (state.applySticky(c)) return;
      // Accepted into a blackhole: nothing behind it.
      if (c.deadUp && c.deadDown) return;
      connectUpstream(state, target, c);
    },
    data(socket: Socket<Conn>, data: Uint8Array) {
      const c = socket.data;
      if (!c.head) {
        const text = new TextDecoder('latin1').decode(data.subarray(0, 256));
        c.head = text.split(/\r?\n/, 1)[0] ?? '';
      }
      if (!c.headChecked) {
        c.headChecked = true;
        if (state.applySticky(c)) return;
      }
      if (c.deadUp) {
        state.counters.swallowedUp += data.length;
        return;
      }
      c.up.push(data, state.shapeFor(c, 'up'));
    },
    drain(socket: Socket<Conn>) {
      socket.data.down.flow();
    },
    end(socket: Socket<Conn>) {
      const c = socket.data;
      if (!c.deadUp) c.up.end();
    },
    close(socket: Socket<Conn>, error?: Error) {
      const c = socket.data;
      c.clientOpen = false;
      if (!c.deadUp && c.upstreamOpen) {
        if (error) {
          c.up.discard();
          c.upstream?.terminate();
        } else {
          c.up.end();
        }
      }
      state.forget(c);
    },
    error() {},
  };
}
