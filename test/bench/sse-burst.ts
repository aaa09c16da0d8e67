/**
 * A child of the live-stream burst benchmark: one user opening STREAMS event streams to API_URL with
 * TOKEN at once, each resuming from LAST_EVENT_ID (a catch-up from far back), and keeping them open.
 * A stream that is refused or ends is opened again: after Retry-After when the answer has one,
 * otherwise at once (a client that keeps trying). Prints one JSON line of counts
 * ({answers: {status: n}, events, open}) every second and when it gets SIGTERM.
 */
const apiUrl = process.env.API_URL!;
const token = process.env.TOKEN!;
const streams = Number(process.env.STREAMS ?? 50);
const lastEventId = process.env.LAST_EVENT_ID ?? '0';
const answers: Record<string, number> = {};
let events = 0;
let open = 0;
let stopping = false;

const report = () => process.stdout.write(`${JSON.stringify({ answers, events, open })}\n`);
setInterval(report, 1000);

async function stream() {
  while (!stopping) {
    let wait = 0;
    try {
      const res = await fetch(`${apiUrl}/api/v2/events`, {
        headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': lastEventId },
      });
      answers[res.status] = (answers[res.status] ?? 0) + 1;
      if (res.status !== 200 || !res.body) {
        wait = Number(res.headers.get('retry-after') ?? 0) * 1000;
        await res.body?.cancel();
      } else {
        open++;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            const frames = buffer.split('\n\n');
            buffer = frames.pop()!;
            for (const frame of frames) if (frame.startsWith('event: call\n')) events++;
          }
        } finally {
          open--;
        }
      }
    } catch {
      answers.error = (answers.error ?? 0) + 1;
      wait = 100;
    }
    await Bun.sleep(wait);
  }
}

for (let i = 0; i < streams; i++) void stream();
process.on('SIGTERM', () => {
  stopping = true;
  report();
  process.exit(0);
});

export {};
