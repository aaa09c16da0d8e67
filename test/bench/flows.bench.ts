import { Flow, type FlowStepInput } from '../../api/shared/contract/index.ts';
import { type SimHandle, type SimTap, startAriSimulator } from '../../asterisk/sim/server.ts';
import { startSidecar } from '../../sidecar/sidecar.ts';
import { commandSigner, keyPair, originateCommand } from '../harness/channel.ts';
import { startSimulatorProcess } from '../harness/sim-process.ts';
import { tempDir, waitFor } from '../harness/util.ts';
import { sidecarConfig } from '../sidecar/harness.ts';
import { startStack } from '../sidecar/stack.ts';
import { fmt, percentile, type Row } from './lib.ts';

/**
 * The sidecar's flow runner (sidecar/flow/), with the simulator's callees by number:
 *
 * - from the ChannelDtmfReceived that completes a gather (the callee's `#`) to the next step's
 *   POST /channels/{id}/play, both timed by the simulator as it writes the event and as the request
 *   arrives (its tap, one process clock), over hundreds of calls; beside the raw path in the same
 *   run: a bare events socket that POSTs the play the moment it reads the `#`;
 * - the heap of one sidecar per live call with 1,000 calls in a flow (a gather whose prompt plays to
 *   a silent callee), beside 1,000 live calls without a flow; the flow's own share against the goal
 *   of at most 10 KB a call.
 */

const RAW_APP = 'bench-raw';
const AUTH = `Basic ${btoa('ariuser:aripass')}`;
/** Presses 1 then # 2 s (scaled) after answering. */
const PRESSES = '+15557771';
/** Answers and stays silent for 60 s. */
const SILENT = '+15557760';

const GATHER_THEN_PLAY: FlowStepInput[] = [
  { verb: 'gather', name: 'choice', max_digits: 4, finish_on_key: '#', timeout_ms: 10_000 },
  { verb: 'play', media: ['sound:hello-world'] },
  { verb: 'hangup' },
];
const LONG_GATHER: FlowStepInput[] = [
  { verb: 'gather', name: 'choice', prompt: ['sound:demo-congrats'], timeout_ms: 50_000 },
  { verb: 'hangup' },
];

interface Timing {
  dtmfAt: number | null;
  playAt: number | null;
}

/** Times, per channel, the `#` written to a socket and the first play requested after it. */
function gatherTap(): { tap: SimTap; watch(channelId: string): Timing } {
  const timings = new Map<string, Timing>();
  const play = /^\/ari\/channels\/([^/]+)\/play(?:\/|$)/;
  return {
    tap: {
      sent(data, at) {
        if (!data.includes('"ChannelDtmfReceived"')) return;
        const e = JSON.parse(data) as { digit?: string; channel?: { id?: string } };
        const t = e.digit === '#' && e.channel?.id ? timings.get(e.channel.id) : undefined;
        if (t && t.dtmfAt === null) t.dtmfAt = at;
      },
      request(method, path, at) {
        if (method !== 'POST') return;
        const id = play.exec(path)?.[1];
        const t = id ? timings.get(decodeURIComponent(id)) : undefined;
        if (t && t.dtmfAt !== null && t.playAt === null) t.playAt = at;
      },
    },
    watch(channelId) {
      const t: Timing = { dtmfAt: null, playAt: null };
      timings.set(channelId, t);
      return t;
    },
  };
}

/** Starts `count` calls at `rate` a second (not waiting for one to start the next); their timings. */
async function paced(
  count: number,
  rate: number,
  start: () => Promise<Timing>,
): Promise<{ timings: Timing[]; failed: number }> {
  const placing: Promise<Timing | null>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    placing.push(start().catch(() => null));
  }
  const placed = await Promise.all(placing);
  const timings = placed.filter((t): t is Timing => t !== null);
  await waitFor(() => timings.every((t) => t.playAt !== null), 30_000, 'a play after every gather').catch(
    () => undefined,
  );
  return { timings, failed: placed.length - timings.length };
}

const latencies = (timings: Timing[]) =>
  timings.flatMap((t) => (t.dtmfAt !== null && t.playAt !== null ? [t.playAt - t.dtmfAt] : []));

/**
 * The raw path: an events socket of its own app; calls originated into it; on each `#`, a play
 * POSTed at once, then the call hung up.
 */
async function rawPath(sim: SimHandle, watch: (id: string) => Timing, count: number, rate: number) {
  const headers = { Authorization: AUTH, 'Content-Type': 'application/json' };
  const ws = new WebSocket(
    `${sim.url.replace('http', 'ws')}/ari/events?app=${RAW_APP}&api_key=ariuser:aripass`,
  );
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error('raw events socket'));
  });
  ws.onmessage = (m) => {
    const e = JSON.parse(String(m.data)) as { type: string; digit?: string; channel?: { id: string } };
    if (e.type !== 'ChannelDtmfReceived' || e.digit !== '#' || !e.channel) return;
    const id = encodeURIComponent(e.channel.id);
    void fetch(`${sim.url}/ari/channels/${id}/play/${crypto.randomUUID()}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ media: ['sound:hello-world'] }),
    })
      .then((res) => res.arrayBuffer())
      .then(() => fetch(`${sim.url}/ari/channels/${id}`, { method: 'DELETE', headers }))
      .then((res) => res.arrayBuffer())
      .catch(() => undefined);
  };
  try {
    return await paced(count, rate, async () => {
      const channelId = crypto.randomUUID();
      const timing = watch(channelId);
      const query = new URLSearchParams({
        endpoint: `Local/${PRESSES}@sim-callee`,
        timeout: '30',
        channelId,
        app: RAW_APP,
        appArgs: channelId,
      });
      const res = await fetch(`${sim.url}/ari/channels?${query}`, { method: 'POST', headers, body: '{}' });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`originate: ${res.status}`);
      return timing;
    });
  } finally {
    ws.close();
  }
}

async function benchLatency(count: number, rate: number): Promise<Row[]> {
  const gather = gatherTap();
  const sim = await startAriSimulator({ port: 0, timeScale: 0.1, tap: gather.tap });
  try {
    // The raw path alone, half before the sidecar starts and half after it stopped (it subscribes
    // to every event and would share the loop), so both paths see the machine's load alike.
    await rawPath(sim, gather.watch, 20, rate);
    const rawBefore = await rawPath(sim, gather.watch, Math.ceil(count / 2), rate);
    const stack = await startStack({
      sharedSim: sim,
      config: { originateCps: 1000, maxConcurrentCalls: 5000, queueMax: 20_000 },
    });
    let runner: Awaited<ReturnType<typeof paced>>;
    try {
      const flow = Flow.parse(GATHER_THEN_PLAY);
      const place = async () => {
        const command = originateCommand(PRESSES, { flow });
        const timing = gather.watch(command.call_id);
        const reply = await stack.signer.originate(command);
        if (reply.status !== 200) throw new Error(`originate: ${reply.status}`);
        return timing;
      };
      await paced(20, rate, place);
      runner = await paced(count, rate, place);
    } finally {
      await stack.stop();
    }
    const rawAfter = await rawPath(sim, gather.watch, Math.floor(count / 2), rate);
    const raw = {
      timings: [...rawBefore.timings, ...rawAfter.timings],
      failed: rawBefore.failed + rawAfter.failed,
    };
    const viaRunner = latencies(runner.timings);
    const direct = latencies(raw.timings);
    const name = `ChannelDtmfReceived (#, ends a gather) → next play's POST, ${count} calls at ${rate}/s`;
    const rows: Row[] = [50, 99].map((p) => ({
      bench: name,
      measure: `p${p} sidecar flow runner`,
      value: fmt.ms(percentile(viaRunner, p)),
      baseline: `raw socket → POST ${fmt.ms(percentile(direct, p))}`,
      ratio: fmt.ratio(percentile(viaRunner, p), percentile(direct, p)),
    }));
    rows.push({
      bench: name,
      measure: 'timed',
      value: `${viaRunner.length} of ${count} flows (${runner.failed} not placed)`,
      baseline: `raw ${direct.length} of ${count} (${raw.failed} not placed)`,
    });
    return rows;
  } finally {
    await sim.stop();
  }
}

/** Takes event batches as the API does, keeping nothing but counts of event types. */
function countingApi() {
  const counts = new Map<string, number>();
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const batch = (await request.json()) as {
        batch_id: string;
        events: { event_id: string; type: string }[];
      };
      for (const e of batch.events) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
      return Response.json({
        batch_id: batch.batch_id,
        results: batch.events.map((e) => ({ event_id: e.event_id, result: 'applied' })),
      });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, count: (type: string) => counts.get(type) ?? 0, server };
}

function heapUsed(): number {
  Bun.gc(true);
  return process.memoryUsage().heapUsed;
}

/**
 * Heap of a sidecar in this process (the simulator in its own) per live call: read once it is
 * connected and again once `calls` calls are live (answered, or in their flow's gather).
 */
async function heapPerCall(calls: number, withFlow: boolean): Promise<{ perCall: number; live: number }> {
  const sim = await startSimulatorProcess({ timeScale: 1 });
  const api = countingApi();
  const dir = tempDir('outdial-bench-flows-');
  const sidecarKey = await keyPair();
  const apiKey = await keyPair();
  const config = sidecarConfig({
    sidecarKey,
    apiKey,
    apiUrl: api.url,
    ariHttpUrl: `${sim.url}/ari`,
    dataDir: dir.path,
    overrides: {
      ariOriginateStyle: 'stasis',
      originateCps: 1000,
      maxConcurrentCalls: 5000,
      queueMax: 20_000,
      ariMaxConnections: 64,
    },
  });
  const sidecar = await startSidecar(config);
  try {
    await waitFor(() => sidecar.status().ari.connected, 5000, 'events socket connected');
    const signer = commandSigner(() => sidecar.url, config.sidecarId, apiKey.key);
    const flow = withFlow ? Flow.parse(LONG_GATHER) : undefined;
    const liveMark = withFlow ? 'step_started' : 'answered';
    const before = heapUsed();
    let placed = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (placed < calls) {
          placed += 1;
          const reply = await signer.originate(originateCommand(SILENT, flow ? { flow } : {}));
          if (reply.status !== 200) throw new Error(`originate: ${reply.status}`);
        }
      }),
    );
    await waitFor(() => api.count(liveMark) >= calls, 30_000, `${calls} calls live`);
    // The gathers' prompts are requested right after their step_started; the outbox drains.
    await Bun.sleep(1000);
    await waitFor(() => sidecar.status().outbox_depth === 0, 10_000, 'outbox drained');
    const after = heapUsed();
    const live = sidecar.status().live_calls;
    return { perCall: (after - before) / calls, live };
  } finally {
    await sidecar.stop().catch(() => undefined);
    api.server.stop(true);
    await sim.stop();
    dir.remove();
  }
}

export async function benchFlows(options: { calls: number; rate: number }): Promise<Row[]> {
  const rows = await benchLatency(options.calls, options.rate);
  const plain = await heapPerCall(1000, false);
  const flowing = await heapPerCall(1000, true);
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const name = '1,000 live calls in one sidecar (heap after GC, per call)';
  rows.push(
    {
      bench: name,
      measure: 'with a flow (a gather, its prompt playing)',
      value: `${kb(flowing.perCall)} (${flowing.live} live)`,
      baseline: `without a flow ${kb(plain.perCall)} (${plain.live} live)`,
      ratio: fmt.ratio(flowing.perCall, plain.perCall),
    },
    {
      bench: name,
      measure: "the flow's own share",
      value: kb(flowing.perCall - plain.perCall),
      baseline: 'goal ≤ 10.0 KB',
      ratio: fmt.ratio(flowing.perCall - plain.perCall, 10 * 1024),
    },
  );
  return rows;
}
