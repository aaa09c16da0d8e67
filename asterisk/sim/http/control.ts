/**
 * Faults for tests: HTTP answers that fail or hang, and the /_sim/ control surface that reaches
 * the handle's faults from another process.
 */
import type { HttpFault, RestartOptions, SimHandle } from '../server.ts';
import { json, message } from './respond.ts';

/** The current HTTP fault and the requests it holds. */
export class HttpFaults {
  private fault: HttpFault = null;
  /** Requests that must not be answered (a 'hang' fault, or Asterisk busy shutting down). */
  private readonly hung = new Set<() => void>();

  set(f: HttpFault): void {
    this.fault = f ? { ...f } : null;
  }

  /** The fault that applies to this request, counting it against `count`. */
  take(method: string, path: string): HttpFault {
    const f = this.fault;
    if (!f) return null;
    if (f.paths && !f.paths.test(path) && !f.paths.test(`${method} ${path}`)) return null;
    if (f.count !== undefined) {
      f.count--;
      if (f.count <= 0) this.fault = null;
    }
    return f;
  }

  /** A response that never comes until release(): then a 503, to a client long gone. */
  hang(): Promise<Response> {
    return new Promise<Response>((resolve) => {
      this.hung.add(() => resolve(new Response(null, { status: 503 })));
    });
  }

  release(): void {
    for (const release of this.hung) release();
    this.hung.clear();
  }
}

/** The fault as JSON: `paths` a regular expression string, `null` to clear. */
const parseFault = (raw: unknown): HttpFault | string => {
  if (raw === null) return null;
  const f = raw as { kind?: unknown; status?: unknown; body?: unknown; count?: unknown; paths?: unknown };
  const paths = typeof f.paths === 'string' ? new RegExp(f.paths) : undefined;
  const count = typeof f.count === 'number' ? f.count : undefined;
  if (f.kind === 'status' && typeof f.status === 'number') {
    return { kind: 'status', status: f.status, body: f.body, count, paths };
  }
  if (f.kind === 'hang') return { kind: 'hang', count, paths };
  return "fault needs kind 'status' (with status) or 'hang'";
};

/** POST /_sim/restart|drop-websockets|fault, GET /_sim/originates|stats (already authorized). */
export const control = async (req: Request, url: URL, handle: SimHandle): Promise<Response> => {
  const num = (name: string) => {
    const v = url.searchParams.get(name);
    return v === null || v === '' ? undefined : Number(v);
  };
  switch (`${req.method} ${url.pathname}`) {
    case 'POST /_sim/restart': {
      const opts: RestartOptions = {};
      const downMs = num('downMs');
      const delay = num('withLiveCallDelayMs');
      if (downMs !== undefined) opts.downMs = downMs;
      if (delay !== undefined) opts.withLiveCallDelayMs = delay;
      // Answer first: the restart takes this very listener down.
      setTimeout(() => void handle.restart(opts), 5);
      return json(202, { restarting: true });
    }
    case 'POST /_sim/drop-websockets': {
      const dropped = handle.stats().sockets;
      handle.dropWebSockets();
      return json(200, { dropped });
    }
    case 'POST /_sim/fault': {
      let raw: unknown;
      try {
        const text = await req.text();
        raw = text.trim() === '' ? null : JSON.parse(text);
      } catch {
        return message(400, 'fault must be JSON');
      }
      const fault = parseFault(raw);
      if (typeof fault === 'string') return message(400, fault);
      handle.setHttpFault(fault);
      return json(200, { fault: raw });
    }
    case 'GET /_sim/originates':
      return json(200, handle.originates);
    case 'GET /_sim/stats':
      return json(200, handle.stats());
  }
  return message(404, 'Resource not found');
};
