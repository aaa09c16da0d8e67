/**
 * A child of the SSE benchmark: opens SUBSCRIBERS streams to API_URL with TOKEN and prints one JSON
 * line per event received ({call_id, at}, `at` in epoch milliseconds with sub-millisecond precision),
 * after a {ready: n} line once every stream is live. Several of these share the load, since one Bun
 * process caps its concurrent fetches.
 */
const apiUrl = process.env.API_URL!;
const token = process.env.TOKEN!;
const count = Number(process.env.SUBSCRIBERS ?? 100);
const now = () => performance.timeOrigin + performance.now();
let ready = 0;
const out: string[] = [];
const flush = () => {
  if (out.length) process.stdout.write(`${out.splice(0).join('\n')}\n`);
};
setInterval(flush, 50);

async function subscribe() {
  const res = await fetch(`${apiUrl}/api/v2/events`, { headers: { Authorization: `Bearer ${token}` } });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const at = now();
    buffer += decoder.decode(value, { stream: true });
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (frame.includes('event: ready')) {
        ready++;
        if (ready === count) out.push(JSON.stringify({ ready }));
      }
      const m = /"call_id":"([0-9a-f-]{36})"/.exec(frame);
      if (m && frame.includes('event: call')) out.push(JSON.stringify({ call_id: m[1], at }));
      cut = buffer.indexOf('\n\n');
    }
  }
}

// Open the streams a few at a time; each keeps reading in the background.
for (let i = 0; i < count; i++) {
  void subscribe().catch(() => undefined);
  if (i % 25 === 24) await Bun.sleep(0);
}
process.on('SIGTERM', () => {
  flush();
  process.exit(0);
});

export {};
