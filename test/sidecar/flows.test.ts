import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import {
  type CallEvent,
  FLOW_EXAMPLE,
  Flow,
  type FlowStepInput,
  SIDECAR_PATHS,
  TYP_COMMAND,
} from '../../api/shared/contract/index.ts';
import { originateCommand } from '../harness/channel.ts';
import { type Stack, startStack } from './stack.ts';

/**
 * Flows run by the real sidecar against the simulator's callees by number (asterisk/sim/README.md),
 * with a signed fake API receiving the events: every verb and its error paths, as the call's events
 * report them.
 */

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    config: { tuning: { flowPlaybackTimeoutMs: 1500, flowAmdMarginMs: 5000 } },
  });
});
afterAll(async () => {
  await stack.stop();
});

/** Places a call with `flow` to `phone`; its id. */
async function place(phone: string, flow: FlowStepInput[]): Promise<string> {
  const command = originateCommand(phone, { flow: Flow.parse(flow) });
  const reply = await stack.signer.originate(command);
  expect(reply.status).toBe(200);
  expect((reply.json as { outcome: string }).outcome).toBe('dialing');
  return command.call_id;
}

/** Waits for the call's flow_ended and its `ended`; the call's events. */
async function settled(callId: string, timeoutMs = 20_000): Promise<CallEvent[]> {
  await stack.api.waitFor(
    () => stack.api.byCall(callId).some((e) => e.type === 'flow_ended') && stack.api.ended(callId).length > 0,
    timeoutMs,
    `flow_ended and ended of ${callId}`,
  );
  return stack.api.byCall(callId);
}

const flowEnd = (events: CallEvent[]) => events.find((e) => e.type === 'flow_ended')!.flow!;
const finishedSteps = (events: CallEvent[]) =>
  events.filter((e) => e.type === 'step_finished').map((e) => e.flow!);

/** Seqs 1..n, one flow_ended before the one `ended`, every step started once and finished once. */
function wellFormed(events: CallEvent[]): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expect(events.filter((e) => e.type === 'flow_ended')).toHaveLength(1);
  expect(events.filter((e) => e.type === 'ended')).toHaveLength(1);
  const started = events.filter((e) => e.type === 'step_started').map((e) => e.flow!.run);
  const finished = events.filter((e) => e.type === 'step_finished').map((e) => e.flow!.run);
  expect(finished).toEqual(started);
  expect(new Set(started).size).toBe(started.length);
  for (const e of events) if (e.flow) expect(e.status).toBe('answered');
}

async function download(callId: string, recording: string): Promise<Response> {
  const body = JSON.stringify({ call_id: callId, recording, requested_at: new Date().toISOString() });
  const token = await signChannelMessage({
    key: stack.apiKey.key,
    issuer: 'outdial',
    audience: `sidecar:${stack.config.sidecarId}`,
    typ: TYP_COMMAND,
    method: 'POST',
    path: SIDECAR_PATHS.recordingFile,
    body,
  });
  return fetch(`${stack.sidecar.url}${SIDECAR_PATHS.recordingFile}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });
}

describe('flows', () => {
  test('play then hangup: each step started and finished, the flow finished, the call hung up', async () => {
    const id = await place('+15557765', [
      { verb: 'play', media: ['sound:hello-world'] },
      { id: 'bye', verb: 'hangup', cause: 16 },
    ]);
    const events = await settled(id);
    wellFormed(events);
    expect(events.map((e) => e.type)).toEqual([
      'dialing',
      'answered',
      'step_started',
      'step_finished',
      'step_started',
      'step_finished',
      'flow_ended',
      'ended',
    ]);
    expect(flowEnd(events)).toMatchObject({
      outcome: 'finished',
      run: 2,
      step: 1,
      step_id: 'bye',
      verb: 'hangup',
    });
    expect(events.at(-1)).toMatchObject({ status: 'completed' });
  });
});

describe('the issue example', () => {
  test('+15557771 presses 1: answers.choice is "1", and the recording downloads as RIFF/WAVE', async () => {
    const id = await place('+15557771', FLOW_EXAMPLE);
    const events = await settled(id);
    wellFormed(events);
    const steps = finishedSteps(events);
    expect(steps.find((s) => s.verb === 'gather')!.answer).toEqual({ name: 'choice', value: '1' });
    const recorded = steps.find((s) => s.verb === 'record')!.answer!;
    expect(recorded.name).toBe('message');
    const value = recorded.value as { recording: string; duration_ms: number };
    expect(value.recording).toBe(`${id}-message-4`);
    expect(flowEnd(events)).toMatchObject({ outcome: 'finished', step_id: 'bye' });
    const file = await download(id, value.recording);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('audio/wav');
    const bytes = new Uint8Array(await file.arrayBuffer());
    expect(new TextDecoder().decode(bytes.slice(0, 4))).toBe('RIFF');
    expect(new TextDecoder().decode(bytes.slice(8, 12))).toBe('WAVE');
    // Another call's id cannot reach it; an unknown recording is a 404 problem.
    expect((await download(crypto.randomUUID(), value.recording)).status).toBe(404);
    const unknown = await download(id, `${id}-nothing-9`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
  }, 30_000);

  test('+15557760 stays silent: after both attempts the branch takes its default', async () => {
    const flow = FLOW_EXAMPLE.map((s) => (s.verb === 'gather' ? { ...s, timeout_ms: 600 } : s));
    const id = await place('+15557760', flow);
    const events = await settled(id);
    wellFormed(events);
    const gather = finishedSteps(events).find((s) => s.verb === 'gather')!;
    expect(gather.answer).toBeUndefined();
    expect(gather.detail).toBe('no input after 2 attempt(s)');
    expect(finishedSteps(events).map((s) => s.verb)).toEqual(['play', 'gather', 'branch', 'hangup']);
    expect(flowEnd(events)).toMatchObject({ outcome: 'finished', step_id: 'bye' });
  }, 30_000);

  test('+15557750 hangs up after 3 s: the flow ends callee_hangup at the step it was in', async () => {
    const id = await place('+15557750', [
      { verb: 'play', media: ['sound:hello-world'] },
      { id: 'wait', verb: 'gather', name: 'never', timeout_ms: 30_000 },
      { verb: 'hangup' },
    ]);
    const events = await settled(id);
    wellFormed(events);
    expect(flowEnd(events)).toMatchObject({ outcome: 'callee_hangup', step_id: 'wait', verb: 'gather' });
    const last = finishedSteps(events).at(-1)!;
    expect(last).toMatchObject({ step_id: 'wait' });
    expect(last.detail).toContain('callee hung up');
    // The flow's end comes before the call's.
    expect(events.findIndex((e) => e.type === 'flow_ended')).toBeLessThan(
      events.findIndex((e) => e.type === 'ended'),
    );
    // And is not stamped later: it is stamped when the channel left, as the call's end is.
    const times = events.map((e) => Date.parse(e.occurred_at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  }, 30_000);
});

describe('gather', () => {
  test('barge-in: a key during the prompt stops it (DELETE /playbacks) and counts as the first digit', async () => {
    const id = await place('+155577742', [
      // demo-congrats plays 30 s (scaled); the callee presses 4, 2, # during it.
      { verb: 'gather', name: 'code', prompt: ['sound:demo-congrats'], max_digits: 4, finish_on_key: '#' },
    ]);
    const events = await settled(id);
    wellFormed(events);
    expect(finishedSteps(events)[0]!).toMatchObject({
      answer: { name: 'code', value: '42' },
      detail: 'attempt 1, the prompt stopped by the first key',
    });
  }, 30_000);

  test('a pattern that does not match counts as no input', async () => {
    const id = await place('+155577742', [
      { verb: 'gather', name: 'code', max_digits: 4, finish_on_key: '#', pattern: '[0-3]+', timeout_ms: 600 },
    ]);
    const events = await settled(id);
    const gather = finishedSteps(events)[0]!;
    expect(gather.answer).toBeUndefined();
    expect(gather.detail).toBe('no valid input after 1 attempt(s)');
  }, 30_000);
});

describe('play', () => {
  test('a missing sound finishes (failed) and the flow goes on; tone: never finishes and is stopped', async () => {
    const id = await place('+15557765', [
      { verb: 'play', media: ['sound:does-not-exist'] },
      { verb: 'play', media: ['tone:ring'] },
      { verb: 'set', name: 'after', value: 'yes' },
    ]);
    const events = await settled(id);
    wellFormed(events);
    const steps = finishedSteps(events);
    expect(steps[0]!.detail).toBe('the playback failed (a missing sound?)');
    expect(steps[1]!.detail).toBe('the playback did not finish within 1500 ms and was stopped');
    expect(steps[2]!.answer).toEqual({ name: 'after', value: 'yes' });
    expect(flowEnd(events)).toMatchObject({ outcome: 'finished' });
  }, 30_000);
});

describe('optout', () => {
  test('finishes at once, its end reported for the API to list the number, and the flow goes on', async () => {
    const id = await place('+15557760', [
      { id: 'out', verb: 'optout' },
      { verb: 'set', name: 'after', value: 'yes' },
      { verb: 'hangup' },
    ]);
    const events = await settled(id);
    wellFormed(events);
    const steps = finishedSteps(events);
    expect(steps[0]).toMatchObject({ run: 1, step: 0, step_id: 'out', verb: 'optout' });
    expect(steps[0]!.detail).toBeUndefined();
    expect(steps[1]!.answer).toEqual({ name: 'after', value: 'yes' });
    expect(flowEnd(events)).toMatchObject({ outcome: 'finished', step: 2 });
  }, 30_000);
});

describe('amd', () => {
  for (const [phone, verdict] of [
    ['+15557785', 'machine'],
    ['+15557781', 'human'],
  ] as const) {
    test(`${phone} is ${verdict}, and a branch on answered_by follows it`, async () => {
      const id = await place(phone, [
        { verb: 'amd' },
        { verb: 'branch', on: 'answered_by', cases: { human: 'hi', machine: 'vm' } },
        { id: 'hi', verb: 'set', name: 'path', value: 'human' },
        { verb: 'hangup' },
        { id: 'vm', verb: 'set', name: 'path', value: 'machine' },
      ]);
      const events = await settled(id, 30_000);
      wellFormed(events);
      const steps = finishedSteps(events);
      expect(steps[0]!).toMatchObject({ verb: 'amd', answered_by: verdict });
      expect(steps.find((s) => s.verb === 'set')!.answer).toEqual({ name: 'path', value: verdict });
      expect(flowEnd(events).outcome).toBe('finished');
    }, 40_000);
  }
});

describe('continue', () => {
  test('continue hands the call to the dialplan: the flow ends continued, the dialplan ends the call', async () => {
    const id = await place('+15557765', [{ verb: 'continue', context: 'ivr-after' }]);
    const events = await settled(id);
    wellFormed(events);
    expect(flowEnd(events)).toMatchObject({ outcome: 'continued', detail: 'to ivr-after,s,1' });
    expect(events.at(-1)).toMatchObject({ type: 'ended', status: 'completed' });
  }, 30_000);
});

describe('request', () => {
  test('the API returns steps: they run as segment 1; an error goes to on_error', async () => {
    stack.api.onFlowRequest = (request) =>
      request.segment === 0
        ? {
            outcome: 'steps',
            steps: Flow.parse([
              { verb: 'set', name: 'from_api', value: 'ok' },
              { verb: 'request', url: 'https://example.com/x', on_error: 'fallback' },
              { id: 'fallback', verb: 'set', name: 'fell', value: 'back' },
            ]),
          }
        : 502;
    const id = await place('+15557765', [
      { verb: 'set', name: 'first', value: '1' },
      { verb: 'request', url: 'https://example.com/ivr' },
      { verb: 'set', name: 'never', value: 'run' },
    ]);
    const events = await settled(id);
    wellFormed(events);
    const asked = stack.api.flowRequests.filter((r) => r.call_id === id);
    expect(asked[0]).toMatchObject({
      run: 2,
      segment: 0,
      step: 1,
      answers: { first: '1' },
      answered_by: null,
    });
    expect(asked[1]).toMatchObject({ segment: 1, step: 1, answers: { first: '1', from_api: 'ok' } });
    const steps = finishedSteps(events);
    expect(steps.map((s) => [s.segment, s.step, s.verb])).toEqual([
      [0, 0, 'set'],
      [0, 1, 'request'],
      [1, 0, 'set'],
      [1, 1, 'request'],
      [1, 2, 'set'],
    ]);
    expect(steps[3]!.detail).toBe('the API answered 502');
    expect(steps.some((s) => s.answer?.name === 'never')).toBe(false);
  }, 30_000);

  test('no answer in time and no on_error: the flow fails and the call is hung up', async () => {
    stack.api.onFlowRequest = () => 'hang';
    const id = await place('+15557765', [
      { verb: 'request', url: 'https://example.com/ivr', timeout_ms: 500 },
    ]);
    const events = await settled(id);
    wellFormed(events);
    expect(flowEnd(events)).toMatchObject({
      outcome: 'failed',
      detail: 'request failed: no answer within 500 ms',
    });
    expect(events.at(-1)).toMatchObject({ type: 'ended', status: 'completed' });
  }, 30_000);
});
