import { afterAll, beforeAll, beforeEach, describe, expect } from 'bun:test';
import type { CallEventInput } from '../../api/shared/contract/index.ts';
import { startTestStack, type TestStack, type TestUser, test } from '../harness/stack.ts';

let stack: TestStack;
let op: TestUser;

beforeAll(async () => {
  stack = await startTestStack({ env: { SSE_POLL_MS: '50' } });
  op = await stack.user('operator');
}, 60_000);
afterAll(() => stack.stop());
beforeEach(() => stack.sidecar.reset());

const root = new URL('../..', import.meta.url).pathname;

/** Runs `bun api/client/example.ts` against the stack; `onCall` gets the call id once it is placed. */
async function runExample(onCall: (callId: string) => Promise<void>) {
  const proc = Bun.spawn([process.execPath, 'api/client/example.ts'], {
    cwd: root,
    env: {
      ...process.env,
      OUTDIAL_URL: stack.url,
      OUTDIAL_USERNAME: op.username,
      OUTDIAL_PASSWORD: op.password,
      PHONE_NUMBER: '+15551234000',
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const timer = setTimeout(() => proc.kill(), 20_000);
  const lines: string[] = [];
  const decoder = new TextDecoder();
  let partial = '';
  let placed: Promise<void> | null = null;
  for await (const chunk of proc.stdout) {
    partial += decoder.decode(chunk, { stream: true });
    const complete = partial.split('\n');
    partial = complete.pop()!;
    for (const line of complete) {
      lines.push(line);
      const id = /^call ([0-9a-f-]{36}) /.exec(line)?.[1];
      if (id) placed = onCall(id);
    }
  }
  const code = await proc.exited;
  clearTimeout(timer);
  await placed;
  return { code, lines, stderr: await new Response(proc.stderr).text() };
}

function ev(callId: string, seq: number, type: CallEventInput['type'], status: CallEventInput['status']) {
  return {
    event_id: `${callId}:${type}`,
    call_id: callId,
    seq,
    type,
    status,
    occurred_at: new Date().toISOString(),
  } satisfies CallEventInput;
}

describe('api/client/example.ts', () => {
  test('logs in, places a call, follows it live to completed and prints the event log', async () => {
    const { code, lines, stderr } = await runExample(async (id) => {
      // The example is following by now or soon: the stream replays the call's history either way.
      await Bun.sleep(100);
      const res = await stack.sidecar.sendEvents(stack.url, [
        ev(id, 1, 'ringing', 'ringing'),
        ev(id, 2, 'answered', 'answered'),
        { ...ev(id, 3, 'ended', 'completed'), reason: 'normal', hangup_cause: 16 },
      ]);
      expect(res.status).toBe(200);
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(lines[0]).toBe(`logged in as ${op.username} (operator)`);
    expect(lines[1]).toMatch(/^call [0-9a-f-]{36} to \+15551234000: dialing$/);
    expect(lines).toContain('  ringing');
    expect(lines).toContain('  answered');
    expect(lines).toContain('  completed (normal)');
    expect(lines).toContain('final status: completed');
    const log = lines.slice(lines.indexOf('event log:') + 1);
    expect(log.map((l) => l.trim().split(/\s+/).slice(0, 1)[0])).toEqual(['1', '2', '3', '4', '5']);
    expect(log.at(-1)).toMatch(/ended\s+completed \(normal, cause 16\)$/);
  });

  test('a call the PBX refuses ends at once: exit code 1 and the failure', async () => {
    stack.sidecar.originateBehaviour = 'rejected';
    const { code, lines } = await runExample(async () => {});
    expect(code).toBe(1);
    expect(lines[1]).toMatch(/^call [0-9a-f-]{36} to \+15551234000: failed \(Allocation failed\)$/);
    expect(lines).toContain('final status: failed');
  });
});
