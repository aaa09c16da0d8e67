import { expect, test } from 'bun:test';
import { sseFrames } from './sse.ts';

/** A body that arrives in the given pieces, as a network splits it. */
function body(...pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece));
      controller.close();
    },
  });
}

async function frames(...pieces: string[]) {
  const all = [];
  for await (const frame of sseFrames(body(...pieces))) all.push(frame);
  return all;
}

test('frames split anywhere across chunks, CRLF or LF, comments and empty frames skipped', async () => {
  const text =
    ': heartbeat\n\nevent: ready\ndata: {"after":"7"}\nretry: 2000\n\n' +
    'event: call\r\ndata: {"sequence":1}\r\nid: 8\r\n\r\n' +
    'data: one\ndata: two\n\n';
  const expected = [
    { event: 'ready', data: '{"after":"7"}' },
    { event: 'call', data: '{"sequence":1}', id: '8' },
    { event: 'message', data: 'one\ntwo' },
  ];
  expect(await frames(text)).toEqual(expected);
  // Every split point, byte by byte, gives the same frames.
  for (let cut = 1; cut < text.length; cut++) {
    expect(await frames(text.slice(0, cut), text.slice(cut))).toEqual(expected);
  }
});

test('a frame cut off by the end of the stream is not delivered', async () => {
  expect(await frames('event: call\ndata: {"sequence":1}\n\nevent: call\ndata: {"seq')).toEqual([
    { event: 'call', data: '{"sequence":1}' },
  ]);
});
