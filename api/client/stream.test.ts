import { afterAll, describe, expect, test } from 'bun:test';
import { createOutdialClient, isOutdialError } from './client.ts';
import { SseParser, type StreamFrame, streamEvents } from './stream.ts';

describe('SseParser', () => {
  test('frames split anywhere, in LF, CRLF and CR, with comments and multi-line data', () => {
    const text =
      ': keep-alive\r\n\r\nevent: call\r\ndata: {"a":1}\r\nid: 7\r\n\r\n' +
      'event: campaign\rdata: line one\rdata: line two\r\r' +
      'data:no space\nretry: 2000\n\n';
    for (const size of [1, 2, 3, 7, text.length]) {
      const parser = new SseParser();
      const got = [];
      for (let i = 0; i < text.length; i += size) got.push(...parser.push(text.slice(i, i + size)));
      expect(got).toEqual([
        { event: 'call', data: '{"a":1}', id: '7', lastEventId: '7', retry: undefined },
        { event: 'campaign', data: 'line one\nline two', id: undefined, lastEventId: '7', retry: undefined },
        { event: 'message', data: 'no space', id: undefined, lastEventId: '7', retry: 2000 },
      ]);
    }
  });

  test('a frame without id keeps the last event id; a frame not yet ended is not dispatched', () => {
    const parser = new SseParser('3');
    expect(parser.push('event: campaign\ndata: {}\n\nevent: call\ndata: {"x":1}\nid: 4\n')).toEqual([
      { event: 'campaign', data: '{}', id: undefined, lastEventId: '3', retry: undefined },
    ]);
    parser.reset();
    expect(parser.push('\n')).toEqual([]);
  });
});

/**
 * A stand-in for GET /api/v2/events over a raw socket: each connection is scripted (an answer, or
 * frames sent chunk by chunk and then the connection cut off without the chunked body's end, as a
 * proxy or a crashing server would), and the Last-Event-ID each one sent is recorded.
 */
interface Answer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}
type Script = () => Answer | string[];

function eventServer(scripts: Script[]) {
  const sent: (string | null)[] = [];
  const server = Bun.listen({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      async data(socket, data) {
        const request = data.toString();
        const lastEventId = /^last-event-id: *(.*?)\r?$/im.exec(request)?.[1] ?? null;
        sent.push(lastEventId);
        const out = scripts[Math.min(sent.length - 1, scripts.length - 1)]!();
        if (!Array.isArray(out)) {
          const headers = Object.entries(out.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`);
          socket.end(
            `HTTP/1.1 ${out.status} X\r\nContent-Length: ${Buffer.byteLength(out.body)}\r\nConnection: close\r\n` +
              `${headers.join('')}\r\n${out.body}`,
          );
          return;
        }
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
        );
        for (const chunk of out) {
          if (chunk) socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
          await Bun.sleep(5);
        }
        socket.end();
      },
    },
  });
  return { server, sent, client: createOutdialClient({ baseUrl: `http://127.0.0.1:${server.port}` }) };
}

const ready = (after: string, resumed = false) =>
  `event: ready\ndata: ${JSON.stringify({ after, resumed, missed: false })}\nretry: 2000\n\n`;
const call = (id: number, status = 'ringing') =>
  `event: call\ndata: ${JSON.stringify({ call_id: 'c1', sequence: id, status })}\nid: ${id}\n\n`;
const campaign = `event: campaign\ndata: ${JSON.stringify({ campaign_id: 'k1', state: 'running' })}\n\n`;

const servers: { stop: (closeActive?: boolean) => void }[] = [];
afterAll(() => {
  for (const s of servers) s.stop(true);
});

async function take(stream: AsyncIterable<StreamFrame>, n: number): Promise<StreamFrame[]> {
  const out: StreamFrame[] = [];
  for await (const frame of stream) {
    out.push(frame);
    if (out.length === n) break;
  }
  return out;
}

describe('streamEvents', () => {
  test('resumes after a drop with the last call event id; id-less campaign frames never move it', async () => {
    const { server, sent, client } = eventServer([
      () => [ready('5'), call(6), campaign, 'event: call\ndata: {"cut off', ''],
      () => [ready('6', true), campaign, campaign],
      () => [ready('6', true), call(7, 'answered'), campaign],
      () => [ready('7', true), call(8, 'completed')],
    ]);
    servers.push(server);
    const reconnects: unknown[] = [];
    const stream = streamEvents(client, {
      reconnectDelayMs: 1,
      onReconnect: ({ cause }) => reconnects.push(cause),
    });
    const frames = await take(stream, 11);
    // The fourth answer ends after its last frame: the stream may already have asked again (with
    // call 8, the last id seen) before the loop above stopped it.
    expect(sent.slice(0, 4)).toEqual([null, '6', '6', '7']);
    expect(sent.slice(4).filter((id) => id !== '8')).toEqual([]);
    expect(frames.map((f) => (f.event === 'call' ? `call ${f.id}` : f.event))).toEqual([
      'ready',
      'call 6',
      'campaign',
      // The frame cut off by the drop is never handed out.
      'ready',
      'campaign',
      'campaign',
      'ready',
      'call 7',
      'campaign',
      'ready',
      'call 8',
    ]);
    expect(stream.lastEventId).toBe('8');
    expect(reconnects.length).toBe(3);
  });

  test('a connection dropped before any call event resumes where it started, from the ready frame', async () => {
    const { server, sent, client } = eventServer([
      () => [ready('41'), campaign],
      () => [ready('41', true), call(42)],
    ]);
    servers.push(server);
    const frames = await take(streamEvents(client, { reconnectDelayMs: 1 }), 4);
    expect(sent).toEqual([null, '41']);
    expect(frames.at(-1)).toMatchObject({ event: 'call', id: '42' });
  });

  test('a given lastEventId is sent on the first connection', async () => {
    const { server, sent, client } = eventServer([() => [ready('100', true), call(101)]]);
    servers.push(server);
    await take(streamEvents(client, { lastEventId: '100', reconnectDelayMs: 1 }), 2);
    expect(sent).toEqual(['100']);
  });

  test('503 and 429 are waited out (Retry-After), 401 ends the iteration with the problem', async () => {
    const problem = (status: number, code: string, retryAfter?: string): Answer => ({
      status,
      headers: {
        'Content-Type': 'application/problem+json',
        ...(retryAfter ? { 'Retry-After': retryAfter } : {}),
      },
      body: JSON.stringify({ status, code, detail: code }),
    });
    const { server, sent, client } = eventServer([
      () => problem(503, 'database_unavailable'),
      () => problem(429, 'rate_limited', '1'),
      () => [ready('9'), call(10)],
      () => problem(401, 'invalid_token'),
    ]);
    servers.push(server);
    const delays: number[] = [];
    const frames: StreamFrame[] = [];
    let error: unknown;
    try {
      for await (const frame of streamEvents(client, {
        reconnectDelayMs: 1,
        onReconnect: ({ delayMs }) => delays.push(delayMs),
      }))
        frames.push(frame);
    } catch (e) {
      error = e;
    }
    expect(frames.map((f) => f.event)).toEqual(['ready', 'call']);
    expect(isOutdialError(error) && [error.status, error.problem?.code]).toEqual([401, 'invalid_token']);
    expect(sent).toEqual([null, null, null, '10']);
    // Retry-After: 1 is honoured over the 1 ms backoff.
    expect(delays[1]).toBeGreaterThanOrEqual(1000);
  });

  test('the signal ends the iteration quietly, while connected and while waiting to reconnect', async () => {
    const { server, client } = eventServer([
      () => [ready('1'), call(2), ...Array.from({ length: 200 }, () => ': keep-alive\n\n')],
    ]);
    servers.push(server);
    const stop = new AbortController();
    const frames: StreamFrame[] = [];
    for await (const frame of streamEvents(client, { signal: stop.signal })) {
      frames.push(frame);
      if (frame.event === 'call') stop.abort();
    }
    expect(frames.length).toBe(2);

    const waiting = new AbortController();
    const down = createOutdialClient({ baseUrl: 'http://127.0.0.1:9' });
    const iteration = (async () => {
      for await (const _ of streamEvents(down, {
        signal: waiting.signal,
        reconnectDelayMs: 60_000,
        onReconnect: () => waiting.abort(),
      }));
    })();
    await iteration;
    expect(waiting.signal.aborted).toBe(true);
  });
});
