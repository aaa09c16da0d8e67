import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import {
  type CallEvent,
  Flow,
  type FlowStepInput,
  SIDECAR_PATHS,
  TYP_COMMAND,
} from '../../api/shared/contract/index.ts';
import { originateCommand } from '../harness/channel.ts';
import { waitFor } from '../harness/util.ts';
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

const EXAMPLE: FlowStepInput[] = [
  { verb: 'play', media: ['sound:hello-world'] },
  {
    id: 'ask',
    verb: 'gather',
    name: 'choice',
    prompt: ['sound:please-press-1'],
    max_digits: 1,
    finish_on_key: '#',
    timeout_ms: 5000,
    attempts: 2,
  },
  { verb: 'branch', on: 'choice', cases: { '1': 'msg' }, default: 'bye' },
  { id: 'msg', verb: 'record', name: 'message', max_seconds: 30, finish_on_key: '#', beep: true },
  { id: 'bye', verb: 'hangup' },
];

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
