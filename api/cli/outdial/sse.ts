/**
 * A minimal server-sent events reader for `calls follow`: the frames of a text/event-stream body
 * as they arrive (comments skipped; `data:` lines joined). The published client is to grow an SSE
 * helper with Last-Event-ID resume; this one is the CLI's own until then.
 */
export interface SseFrame {
  event: string;
  data: string;
  id?: string;
}

export async function* sseFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let text = '';
  let pending = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += decoder.decode(value, { stream: true });
      // A CR at the end of a chunk may be the first half of a CRLF: it waits for the next chunk.
      const whole = pending.endsWith('\r') ? pending.length - 1 : pending.length;
      text += pending.slice(0, whole).replace(/\r\n?/g, '\n');
      pending = pending.slice(whole);
      for (let cut = text.indexOf('\n\n'); cut >= 0; cut = text.indexOf('\n\n')) {
        const block = text.slice(0, cut);
        text = text.slice(cut + 2);
        const frame: SseFrame = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue;
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'event') frame.event = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') frame.id = value;
        }
        if (data.length === 0) continue;
        frame.data = data.join('\n');
        yield frame;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
