import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { Flow } from '../../api/shared/contract/index.ts';
import { type SimHandle, startAriSimulator } from '../../asterisk/sim/server.ts';
import { commandSigner, type KeyPair, keyPair, originateCommand } from '../harness/channel.ts';
import { tempDir, waitFor } from '../harness/util.ts';
import { type FakeApi, startFakeApi } from './harness.ts';
import { expectWellFormedCall } from './stack.ts';

/** The sidecar as an operator runs it: `bun sidecar/main.ts`, killed and restarted. */

const ROOT = join(import.meta.dir, '..', '..');
const BUN = process.execPath;

interface Proc {
  proc: Bun.Subprocess<'ignore', 'pipe', 'pipe'>;
  url: Promise<string>;
  lines: string[];
  stderr: Promise<string>;
}

function spawnSidecar(env: Record<string, string>): Proc {
  const proc = Bun.spawn([BUN, 'sidecar/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const lines: string[] = [];
  const { promise: url, resolve: resolveUrl } = Promise.withResolvers<string>();
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of proc.stdout) {
      buffer += decoder.decode(chunk);
      let cut = buffer.indexOf('\n');
      while (cut !== -1) {
        const line = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 1);
        lines.push(line);
        try {
          const record = JSON.parse(line) as { msg?: string; url?: string };
          if (record.msg === 'sidecar started' && record.url) resolveUrl(record.url);
        } catch {
          // not a log line
        }
        cut = buffer.indexOf('\n');
      }
    }
  })();
  return { proc, url, lines, stderr: new Response(proc.stderr).text() };
}

let sim: SimHandle;
let api: FakeApi;
let sidecarKey: KeyPair;
let apiKey: KeyPair;
const dir = tempDir();

beforeAll(async () => {
  sim = await startAriSimulator({ port: 0, timeScale: 0.1 });
  sidecarKey = await keyPair();
  apiKey = await keyPair();
  api = await startFakeApi({ sidecarPublicJson: sidecarKey.publicJson });
});
afterAll(async () => {
  await api.stop();
  await sim.stop();
  dir.remove();
});

describe('configuration', () => {
  test('missing or bad settings exit non-zero with a clear message and no secrets', async () => {
    const missing = spawnSidecar({ ARI_PASSWORD: 'supersecret-value', ORIGINATE_CPS: 'many' });
    expect(await missing.proc.exited).toBe(2);
    const text = await missing.stderr;
    expect(text).toContain('SIDECAR_PRIVATE_KEY');
    expect(text).toContain('API_URL');
    expect(text).toContain('API_PUBLIC_KEYS');
    expect(text).toContain('ORIGINATE_CPS');
    expect(text).not.toContain('supersecret-value');

    const badKey = spawnSidecar({
      SIDECAR_PRIVATE_KEY: '{"kty":"RSA"}',
      API_URL: 'http://127.0.0.1:1',
      API_PUBLIC_KEYS: apiKey.publicJson,
      DATA_DIR: dir.path,
    });
    expect(await badKey.proc.exited).toBe(2);
    expect(await badKey.stderr).toContain('Ed25519');
  });
});

describe('kill -9 and restart', () => {
  test('every call ends exactly once and nothing is originated twice', async () => {
    const env = {
      SIDECAR_ID: 'killtest',
      SIDECAR_PORT: '0',
      SIDECAR_PRIVATE_KEY: sidecarKey.privateJson,
      API_URL: api.url,
      API_PUBLIC_KEYS: apiKey.publicJson,
      ARI_HTTP_URL: `${sim.url}/ari`,
      ARI_DIAL_CONTEXT: 'sim-callee',
      ARI_ORIGINATE_STYLE: 'stasis',
      ARI_APP: 'cc-kill',
      ORIGINATE_CPS: '10',
      RECONCILE_INTERVAL_MS: '1000',
      DATA_DIR: dir.path,
      LOG_LEVEL: 'info',
    };
    const first = spawnSidecar(env);
    let url = await first.url;
    const signer = commandSigner(() => url, 'killtest', apiKey.key);
    await waitFor(() => first.lines.some((l) => l.includes('ARI events socket open')), 5000, 'socket open');

    // 20 calls at 10 per second: when the process dies, some are live, some still queued.
    // Answer-and-stay (6 s here) and ring-then-no-answer (0.2 s here).
    const commands = Array.from({ length: 20 }, (_, i) =>
      originateCommand(i % 4 === 3 ? '5551234009' : '5551234005'),
    );
    const replies = await Promise.all(commands.map((c) => signer.originate(c)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    await api.waitFor(
      () => commands.filter((c) => api.byCall(c.call_id).some((e) => e.status === 'answered')).length >= 6,
      5000,
      'some calls answered',
    );
    first.proc.kill('SIGKILL');
    expect(await first.proc.exited).not.toBe(0);
    const originatedBeforeKill = sim.originates.filter((o) =>
      commands.some((c) => c.call_id === o.channelId),
    ).length;
    expect(originatedBeforeKill).toBeLessThan(20);
    await Bun.sleep(300);

    const second = spawnSidecar(env);
    url = await second.url;
    try {
      const ended = await (async () => {
        await api.waitFor(
          () => commands.every((c) => api.ended(c.call_id).length > 0),
          15_000,
          'every call ended',
        );
        return commands.map((c) => api.ended(c.call_id));
      })();
      for (const [i, ends] of ended.entries()) {
        expect({ i, ends: ends.length }).toEqual({ i, ends: 1 });
        expect(expectWellFormedCall(api.byCall(commands[i]!.call_id))).toBeNull();
      }
      for (const c of commands) {
        expect(sim.originates.filter((o) => o.channelId === c.call_id).length).toBe(1);
      }
      // The long calls that outlived the crash were followed to their real end.
      const completed = commands.filter((c) => api.ended(c.call_id)[0]!.status === 'completed');
      expect(completed.length).toBeGreaterThan(0);

      if (process.env.SIDECAR_TEST_VERBOSE) {
        console.log(
          commands
            .map((c) => api.ended(c.call_id)[0]!.status + '/' + api.ended(c.call_id)[0]!.reason)
            .join(' '),
        );
        console.log(second.lines.filter((l) => /recovered|reconciled|adopted|lost/.test(l)).join('\n'));
      }
      // SIGTERM: a graceful stop well before the deadline.
      const started = Date.now();
      second.proc.kill('SIGTERM');
      expect(await second.proc.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(second.lines.some((l) => l.includes('"msg":"sidecar stopped"'))).toBe(true);
    } finally {
      second.proc.kill('SIGKILL');
    }
  }, 40_000);
});

describe('kill -9 during a flow', () => {
  test('the flow ends interrupted (flow_interrupted), the channel is hung up, no answer is reported twice', async () => {
    const env = {
      SIDECAR_ID: 'flowkill',
      SIDECAR_PORT: '0',
      SIDECAR_PRIVATE_KEY: sidecarKey.privateJson,
      API_URL: api.url,
      API_PUBLIC_KEYS: apiKey.publicJson,
      ARI_HTTP_URL: `${sim.url}/ari`,
      ARI_DIAL_CONTEXT: 'sim-callee',
      ARI_APP: 'contactcenter',
      RECONCILE_INTERVAL_MS: '1000',
      DATA_DIR: dir.path,
      LOG_LEVEL: 'info',
    };
    const first = spawnSidecar(env);
    let url = await first.url;
    const signer = commandSigner(() => url, 'flowkill', apiKey.key);
    await waitFor(() => first.lines.some((l) => l.includes('ARI events socket open')), 5000, 'socket open');
    // The silent callee (+1555776…) stays 6 s here; the gather waits far longer.
    const commands = Array.from({ length: 3 }, () =>
      originateCommand('+15557769', {
        flow: Flow.parse([
          { verb: 'set', name: 'before', value: 'kill' },
          { id: 'wait', verb: 'gather', name: 'digits', timeout_ms: 30_000 },
          { verb: 'set', name: 'after', value: 'never' },
        ]),
      }),
    );
    for (const c of commands) expect((await signer.originate(c)).status).toBe(200);
    const inGather = (id: string) =>
      api.byCall(id).some((e) => e.type === 'step_started' && e.flow?.verb === 'gather');
    await api.waitFor(() => commands.every((c) => inGather(c.call_id)), 10_000, 'every flow in its gather');
    first.proc.kill('SIGKILL');
    await first.proc.exited;

    const second = spawnSidecar(env);
    url = await second.url;
    try {
      await api.waitFor(
        () => commands.every((c) => api.ended(c.call_id).length > 0),
        15_000,
        'every call ended',
      );
      for (const c of commands) {
        const events = api.byCall(c.call_id);
        expect(
          expectWellFormedCall(events.filter((e) => e.flow === null).map((e, i) => ({ ...e, seq: i + 1 }))),
        ).toBeNull();
        const ends = events.filter((e) => e.type === 'flow_ended');
        expect(ends).toHaveLength(1);
        expect(ends[0]).toMatchObject({
          reason: 'flow_interrupted',
          flow: { outcome: 'interrupted', step_id: 'wait' },
        });
        const answers = events.filter((e) => e.flow?.answer).map((e) => e.flow!.answer!.name);
        expect(answers).toEqual(['before']);
        const gather = events.filter((e) => e.type === 'step_finished' && e.flow?.verb === 'gather');
        expect(gather).toHaveLength(1);
        // Hung up by the sidecar long before the callee's own 6 s: our DELETE, a normal clearing.
        expect(api.ended(c.call_id)[0]).toMatchObject({ status: 'completed', hangup_cause: 16 });
        expect(events.findIndex((e) => e.type === 'flow_ended')).toBeLessThan(
          events.findIndex((e) => e.type === 'ended'),
        );
      }
    } finally {
      second.proc.kill('SIGKILL');
    }
  }, 40_000);
});
