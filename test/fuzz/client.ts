import { connect } from 'node:net';

/**
 * Sends one request as it is and reads the answer. `fetch` for what an HTTP library sends;
 * `raw` writes the bytes on a socket itself, for what fetch cannot send: `.` and `..` path
 * segments (URL parsing resolves them), methods fetch refuses (TRACE, CONNECT), and repeated
 * headers (fetch joins them into one).
 */
export interface WireRequest {
  method: string;
  /** Path and query exactly as on the wire. */
  target: string;
  headers: Array<[string, string]>;
  body?: string;
  /** Send the body as a stream of chunks, without Content-Length. */
  chunked?: boolean;
  transport: 'fetch' | 'raw';
}

export interface WireResponse {
  status: number;
  headers: Headers;
  body: string;
}

const TIMEOUT_MS = 10_000;

export async function send(
  base: string,
  req: WireRequest,
  inProcess?: (path: string, init: RequestInit) => Response | Promise<Response>,
): Promise<WireResponse> {
  if (req.transport === 'raw') {
    if (inProcess) throw new Error('raw requests need a socket');
    return sendRaw(base, req);
  }
  const headers = new Headers();
  for (const [k, v] of req.headers) headers.append(k, v);
  const init: RequestInit = { method: req.method, headers, redirect: 'manual' };
  if (req.body !== undefined) {
    if (req.chunked) {
      const bytes = new TextEncoder().encode(req.body);
      let at = 0;
      init.body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.length) return controller.close();
          controller.enqueue(bytes.subarray(at, at + 8192));
          at += 8192;
        },
      });
    } else init.body = req.body;
  }
  const res = inProcess
    ? await withTimeout(Promise.resolve(inProcess(req.target, init)), req)
    : await fetch(`${base}${req.target}`, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  return { status: res.status, headers: res.headers, body: await readBody(res) };
}

async function withTimeout<T>(p: Promise<T>, req: WireRequest): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer in ${TIMEOUT_MS} ms: ${req.method} ${req.target}`)),
      TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An event stream stays open: its answer is its status and headers. */
async function readBody(res: Response): Promise<string> {
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return '';
  }
  return res.text();
}

function sendRaw(base: string, req: WireRequest): Promise<WireResponse> {
  const url = new URL(base);
  const lines = [`${req.method} ${req.target} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close'];
  for (const [k, v] of req.headers) lines.push(`${k}: ${v}`);
  const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
  let payload: Buffer;
  if (body === undefined) payload = Buffer.alloc(0);
  else if (req.chunked) {
    const parts: Buffer[] = [];
    for (let at = 0; at < body.length; at += 8192) {
      const chunk = body.subarray(at, at + 8192);
      parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    payload = Buffer.concat(parts);
    lines.push('Transfer-Encoding: chunked');
  } else {
    payload = body;
    lines.push(`Content-Length: ${body.length}`);
  }
  const isHead = req.method.toUpperCase() === 'HEAD';
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');

  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      const parsed = error ? null : parseResponse(Buffer.concat(chunks), isHead);
      if (!error && !parsed) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(parsed!);
    };
    const timer = setTimeout(
      () => finish(new Error(`no answer in ${TIMEOUT_MS} ms: ${req.method} ${req.target}`)),
      TIMEOUT_MS,
    );
    socket.on('connect', () => {
      socket.write(head);
      // The server may answer (413, 404, …) and close before it has read the body.
      if (payload.length > 0) socket.write(payload, () => undefined);
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      finish();
    });
    socket.on('error', (e) => {
      // A reset after a complete answer is the server closing early; the answer stands.
      const parsed = parseResponse(Buffer.concat(chunks), isHead, true);
      if (parsed && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(parsed);
      } else finish(e);
    });
    socket.on('end', () => {
      const parsed = parseResponse(Buffer.concat(chunks), isHead, true);
      if (parsed) finish();
      else finish(new Error(`connection closed without a complete answer: ${req.method} ${req.target}`));
    });
  });
}

/** A complete HTTP/1.1 answer in `buf`, or null while more is to come. */
function parseResponse(buf: Buffer, head: boolean, closed = false): WireResponse | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...headerLines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  if (!status) throw new Error(`not an HTTP answer: ${statusLine}`);
  const headers = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const rest = buf.subarray(end + 4);
  if (head || headers.get('content-type')?.startsWith('text/event-stream'))
    return { status, headers, body: '' };
  const length = headers.get('content-length');
  if (length !== null) {
    if (rest.length < Number(length)) return null;
    return { status, headers, body: rest.subarray(0, Number(length)).toString('utf8') };
  }
  if (headers.get('transfer-encoding')?.toLowerCase().includes('chunked')) {
    const out: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size in answer');
      if (size === 0) return { status, headers, body: Buffer.concat(out).toString('utf8') };
      if (rest.length < lineEnd + 2 + size + 2) return null;
      out.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  if (status === 204 || status === 304 || status < 200) return { status, headers, body: '' };
  return closed ? { status, headers, body: rest.toString('utf8') } : null;
}
