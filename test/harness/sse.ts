/** A small server-sent events client for tests: reads frames from a fetch Response as they arrive. */

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
  retry?: number;
}

export interface SseReader {
  response: Response;
  /** The next frame (comments included), or null when the stream ended. */
  next(timeoutMs?: number): Promise<SseFrame | null>;
  /** The next `count` frames with an `event:` (skipping comments and the `ready` frame). */
  events(count: number, timeoutMs?: number): Promise<SseFrame[]>;
  /** Frames already received and not yet taken. */
  buffered(): SseFrame[];
  close(): void;
}

export function readSse(response: Response): SseReader {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const frames: SseFrame[] = [];
  let text = '';
  let done = false;
  let waiting = null as (() => void) | null;

  (async () => {
    try {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        text += decoder.decode(value, { stream: true });
        let cut = text.indexOf('\n\n');
        while (cut >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          const frame: SseFrame = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) frame.comment = line.slice(1).trim();
            else {
              const i = line.indexOf(':');
              const field = i < 0 ? line : line.slice(0, i);
              const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
              if (field === 'id') frame.id = value;
              else if (field === 'event') frame.event = value;
              else if (field === 'data')
                frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
              else if (field === 'retry') frame.retry = Number(value);
            }
          }
          frames.push(frame);
          cut = text.indexOf('\n\n');
        }
        waiting?.();
      }
    } catch {
      // the stream was cancelled or broke
    } finally {
      done = true;
      waiting?.();
    }
  })();

  async function next(timeoutMs = 5000): Promise<SseFrame | null> {
    const deadline = Date.now() + timeoutMs;
    while (frames.length === 0) {
      if (done) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SSE frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        waiting = resolve;
        setTimeout(resolve, left);
      });
      waiting = null;
    }
    return frames.shift()!;
  }

  return {
    response,
    next,
    async events(count, timeoutMs = 5000) {
      const out: SseFrame[] = [];
      const deadline = Date.now() + timeoutMs;
      while (out.length < count) {
        const f = await next(Math.max(1, deadline - Date.now()));
        if (!f) throw new Error(`stream ended after ${out.length} of ${count} events`);
        if (f.event && f.event !== 'ready') out.push(f);
      }
      return out;
    },
    buffered: () => [...frames],
    close() {
      reader.cancel().catch(() => undefined);
    },
  };
}
