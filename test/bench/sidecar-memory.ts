import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandSigner, keyPair, originateCommand } from '../harness/channel.ts';
import { startSimulatorProcess } from '../harness/sim-process.ts';
import { freePort, tempDir } from '../harness/util.ts';
import { sidecarConfig, sidecarEnv, startFakeApi } from '../sidecar/harness.ts';
import { type HeapProbe, heapProbe } from './heap-probe.ts';
import { BUN, ROOT, rssMiB, startChild } from './lib.ts';

/**
 * Where the sidecar's memory goes (`bun test/bench/sidecar-memory.ts [calls]`): a bare Bun process
 * beside the sidecar (sidecar/main.ts) on the simulator (real time) and a fake API that acknowledges
 * every event batch. The sidecar's resident set (by mapping) and JavaScript heap (by object type,
 * through heap-probe.ts) idle; after `calls` calls that answer and end at once (digit 4), WARM_ROUNDS
 * times (default 1); then with `calls` and 2 × `calls` live calls (digit 5, stasis style: up for
 * 61 s), each round's growth per call. Commands go WORKERS at a time (default 32, as the bench's);
 * SIDECAR_BUN_ARGS adds flags to the sidecar's `bun` (e.g. `--smol`).
 */

const calls = Number(process.argv[2] ?? 1000);
const MiB = 1024 * 1024;

/** Resident memory by mapping (anonymous, the executable, SQLite's files...) from /proc/pid/smaps, in MiB. */
function residentByMapping(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let name = '';
  for (const row of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(row);
    if (head) {
      const path = head[1] ?? '';
      name = path === '' ? 'anonymous' : path.includes('/') ? path.split('/').at(-1)! : path;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(row);
    if (rss) out[name] = (out[name] ?? 0) + Number(rss[1]) / 1024;
  }
  return out;
}

function showMappings(pid: number): string {
  return Object.entries(residentByMapping(pid))
    .filter(([, mib]) => mib >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .map(([n, mib]) => `${n} ${mib.toFixed(1)}`)
    .join(', ');
}

const dir = tempDir();
const bare = Bun.spawn([BUN, '-e', 'setInterval(() => {}, 1000)'], { cwd: ROOT });
const sim = await startSimulatorProcess({ timeScale: 1 });
const sidecarKey = await keyPair();
const apiKey = await keyPair();
const api = await startFakeApi({ sidecarPublicJson: sidecarKey.publicJson });
const port = await freePort();
const config = {
  ...sidecarConfig({
    sidecarKey,
    apiKey,
    apiUrl: api.url,
    ariHttpUrl: `${sim.url}/ari`,
    dataDir: dir.path,
  }),
  sidecarId: 'memory',
  port,
  ariApp: 'memory',
  ariOriginateStyle: 'stasis' as const,
  originateCps: 5000,
  maxConcurrentCalls: 5000,
  queueMax: 20_000,
  logLevel: 'error' as const,
};
const probeFile = join(dir.path, 'probe.json');
const sidecar = await startChild(
  'sidecar/main.ts',
  { ...sidecarEnv(config), PORT: String(port), HEAP_PROBE_FILE: probeFile },
  '/health',
  [
    ...(process.env.SIDECAR_BUN_ARGS ?? '').split(' ').filter(Boolean),
    '--preload',
    './test/bench/heap-probe.ts',
  ],
);
try {
  const signer = commandSigner(() => sidecar.url, config.sidecarId, apiKey.key);
  await Bun.sleep(2000);
  const bareRss = rssMiB(bare.pid);
  const idleRss = rssMiB(sidecar.proc.pid);
  const idle = await heapProbe(sidecar.proc.pid, probeFile);
  console.log(`idle mappings (MiB): ${showMappings(sidecar.proc.pid)}`);

  const place = async (n: number, phone: string) => {
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: Number(process.env.WORKERS ?? 32) }, async () => {
        while (ids.length < n) {
          const command = originateCommand(phone);
          ids.push(command.call_id);
          const r = await signer.originate(command);
          if (r.status !== 200) throw new Error(`originate: ${r.status} ${JSON.stringify(r.json)}`);
        }
      }),
    );
    return ids;
  };
  const reached = (ids: string[], type: string) => {
    const seen = new Set(api.events.filter((e) => e.type === type).map((e) => e.call_id));
    return ids.every((id) => seen.has(id));
  };
  // Warm-up: calls that answer and end at once (digit 4), so code compiled on first use and the
  // allocator's working set are in the idle figure, not charged to the live calls.
  const warmRounds: { rss: number; p: HeapProbe }[] = [];
  for (let round = 0; round < Number(process.env.WARM_ROUNDS ?? 1); round++) {
    const warm = await place(calls, '5551234004');
    await api.waitFor(() => reached(warm, 'ended'), 60_000, 'warm-up calls ended');
    await Bun.sleep(2000);
    warmRounds.push({ rss: rssMiB(sidecar.proc.pid), p: await heapProbe(sidecar.proc.pid, probeFile) });
  }
  const { rss: warmRss, p: warmed } = warmRounds.at(-1)!;
  console.log(`warm mappings (MiB): ${showMappings(sidecar.proc.pid)}`);

  const kb = (bytes: number) => `${(bytes / 1e3).toFixed(1)} KB`;
  const line = (name: string, rss: number, p: HeapProbe) =>
    console.log(
      `${name.padEnd(28)} RSS ${rss.toFixed(1)} MiB; heap ${(p.heapSize / MiB).toFixed(1)} of ${(p.heapCapacity / MiB).toFixed(1)} MiB, extra ${(p.extraMemorySize / MiB).toFixed(1)} MiB, ${p.objectCount} objects`,
    );
  console.log(`bare bun: RSS ${bareRss.toFixed(1)} MiB`);
  line('sidecar idle', idleRss, idle);
  for (const [i, w] of warmRounds.entries()) line(`after ${(i + 1) * calls} ended calls`, w.rss, w.p);
  let before = { rss: warmRss, p: warmed };
  for (let round = 1; round <= 2; round++) {
    const ids = await place(calls, '5551234005');
    await api.waitFor(() => reached(ids, 'answered'), 60_000, 'answered');
    await Bun.sleep(1000);
    const rss = rssMiB(sidecar.proc.pid);
    const p = await heapProbe(sidecar.proc.pid, probeFile);
    line(`${round * calls} live`, rss, p);
    console.log(
      `  per live call, this round: RSS ${kb(((rss - before.rss) * MiB) / calls)}, heap ${kb((p.heapSize - before.p.heapSize) / calls)}, extra ${kb((p.extraMemorySize - before.p.extraMemorySize) / calls)}, objects ${((p.objectCount - before.p.objectCount) / calls).toFixed(1)}`,
    );
    const types = new Set([...Object.keys(before.p.objectTypeCounts), ...Object.keys(p.objectTypeCounts)]);
    const diff = [...types]
      .map((t) => ({ t, d: (p.objectTypeCounts[t] ?? 0) - (before.p.objectTypeCounts[t] ?? 0) }))
      .filter((x) => Math.abs(x.d) >= calls / 10)
      .sort((a, b) => b.d - a.d);
    console.log(`  ${diff.map(({ t, d }) => `${t} ${(d / calls).toFixed(2)}`).join(', ')}`);
    before = { rss, p };
  }
} finally {
  await sidecar.stop().catch(() => undefined);
  await api.stop();
  await sim.stop();
  bare.kill();
  dir.remove();
}
