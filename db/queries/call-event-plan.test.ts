import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { type CallStatus, isTerminal } from '../../api/shared/contract/index.ts';
import { callStory, deliveries, type StoryEvent, storyEvents } from '../../test/harness/call-story.ts';
import { timelineProblem } from '../../test/harness/checks.ts';
import { type CallEventInput, type KnownEvent, planCallEvents } from './call-event-plan.ts';
import type { CallRow } from './calls.ts';

/**
 * How call events are applied, without a database: whatever order, batching, repeats and clock
 * skew they come with, a call's times stay in order, events in order keep their times exactly,
 * statuses only move forward, and nothing applies twice. The same planner runs inside
 * applyCallEvents; test/integration/sidecar-events.test.ts checks it through the route.
 */

const RANK: Record<string, number> = { pending: 0, dialing: 1, ringing: 2, answered: 3 };
const rank = (status: CallStatus) => (isTerminal(status) ? 4 : RANK[status]!);

function newCall(id: string, createdAt: Date): CallRow {
  return {
    id,
    ownerId: crypto.randomUUID(),
    phoneNumber: '5551234000',
    context: 'outbound-ivr',
    extension: 's',
    priority: 1,
    timeoutMs: 30_000,
    callerId: null,
    variables: {},
    status: 'pending',
    reason: null,
    hangupCause: null,
    hangupCauseTxt: null,
    dialStatus: null,
    channel: null,
    sidecarId: 'sc',
    attemptNumber: 1,
    statusCallback: null,
    statusCallbackEvents: null,
    traceparent: null,
    lastEventSeq: 1,
    createdAt,
    updatedAt: createdAt,
    dialedAt: null,
    answeredAt: null,
    endedAt: null,
    hangupRequestedAt: null,
    flow: null,
    flowId: null,
    flowVersion: null,
    answers: {},
    answeredBy: null,
    flowOutcome: null,
    flowEndedStep: null,
    flowEndedStepId: null,
    flowDetail: null,
    campaignId: null,
    contactId: null,
  };
}

const toInput = (e: StoryEvent, callId: string): CallEventInput => ({
  eventId: e.eventId,
  callId,
  type: e.type,
  ...(e.status ? { status: e.status } : {}),
  reason: e.reason,
  occurredAt: e.occurredAt,
  source: e.source === 'api' ? 'api' : 'sidecar:sc',
});

interface LogEntry {
  seq: number;
  type: string;
  status: CallStatus;
  occurredAt: Date;
  input: CallEventInput;
}

/** Feeds the batches through the planner the way applyCallEvents does, batch after batch. */
function run(call: CallRow, batches: CallEventInput[][]) {
  let row = call;
  const known: KnownEvent[] = [
    { eventId: `${call.id}:created`, callId: call.id, type: 'created', occurredAt: call.createdAt },
  ];
  const log: LogEntry[] = [
    { seq: 1, type: 'created', status: 'pending', occurredAt: call.createdAt, input: null! },
  ];
  for (const batch of batches) {
    const plan = planCallEvents([row], known, batch);
    for (const { index, values } of plan.inserts) {
      known.push({
        eventId: values.eventId,
        callId: call.id,
        type: values.type,
        occurredAt: values.occurredAt,
      });
      log.push({
        seq: values.seq,
        type: values.type,
        status: values.status,
        occurredAt: values.occurredAt,
        input: plan.out[index]!.input,
      });
    }
    if (plan.changed[0]) row = plan.changed[0];
  }
  return { row, known, log };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const MILESTONES = new Set(['created', 'dialing', 'ringing', 'progress', 'answered', 'ended']);

describe('planCallEvents', () => {
  test('any order, batching, repeats and clock skew: times in order, in-order times exact, statuses forward, nothing twice', () => {
    fc.assert(
      fc.property(
        callStory(),
        fc.date({ min: new Date('2024-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }),
        (story, createdAt) => {
          const id = crypto.randomUUID();
          const call = newCall(id, createdAt);
          const inputs = storyEvents(story, id, createdAt).map((e) => toInput(e, id));
          const batches = deliveries(story, inputs);
          const { row, known, log } = run(call, batches);

          // created ≤ dialed ≤ ringing ≤ answered ≤ ended.
          const events = log.map((e) => ({ status: e.status, time: e.occurredAt.toISOString() }));
          const problem = timelineProblem(
            {
              created_at: row.createdAt.toISOString(),
              dialed_at: iso(row.dialedAt),
              answered_at: iso(row.answeredAt),
              ended_at: iso(row.endedAt),
            },
            events,
          );
          expect(problem).toBeNull();

          // Each milestone keeps its reporter's time unless that is before the previous milestone,
          // and is then raised to exactly that; other events keep theirs.
          let previous = createdAt.getTime();
          for (const entry of log.slice(1)) {
            const sent = entry.input.occurredAt.getTime();
            if (MILESTONES.has(entry.type)) {
              expect(entry.occurredAt.getTime()).toBe(Math.max(sent, previous));
              previous = entry.occurredAt.getTime();
            } else {
              expect(entry.occurredAt.getTime()).toBe(sent);
            }
          }

          // Sequence 1, 2, 3…; statuses never move back; nothing after the end; each type once.
          expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
          for (let i = 1; i < log.length; i++) {
            expect(rank(log[i]!.status)).toBeGreaterThanOrEqual(rank(log[i - 1]!.status));
            expect(isTerminal(log[i - 1]!.status)).toBe(false);
          }
          const types = log.map((e) => e.type).filter((t) => MILESTONES.has(t));
          expect(new Set(types).size).toBe(types.length);

          // The call row says what its log says.
          expect(row.status).toBe(log.at(-1)!.status);
          expect(row.lastEventSeq).toBe(log.length);
          const first = (pred: (e: LogEntry) => boolean) => log.find(pred)?.occurredAt ?? null;
          expect(iso(row.dialedAt)).toBe(
            iso(first((e) => ['dialing', 'ringing', 'answered'].includes(e.status))),
          );
          expect(iso(row.answeredAt)).toBe(iso(first((e) => e.status === 'answered')));
          expect(iso(row.endedAt)).toBe(iso(first((e) => isTerminal(e.status))));

          // Everything again, in one batch: nothing applies, nothing changes.
          const again = planCallEvents([row], known, batches.flat());
          expect(again.inserts).toEqual([]);
          expect(again.changed).toEqual([]);
          expect(again.out.every((o) => o.result === 'duplicate' || o.result === 'stale')).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("a sidecar clock behind the API's: every milestone is raised to the creation, none before it", () => {
    const createdAt = new Date('2026-03-01T12:00:00.000Z');
    const id = crypto.randomUUID();
    const behind = (ms: number) => new Date(createdAt.getTime() - 60_000 + ms);
    const { row, log } = run(newCall(id, createdAt), [
      [
        {
          eventId: 'd',
          callId: id,
          type: 'dialing',
          status: 'dialing',
          occurredAt: behind(0),
          source: 'sidecar:sc',
        },
        {
          eventId: 'r',
          callId: id,
          type: 'ringing',
          status: 'ringing',
          occurredAt: behind(50),
          source: 'sidecar:sc',
        },
        {
          eventId: 'a',
          callId: id,
          type: 'answered',
          status: 'answered',
          occurredAt: behind(70_000),
          source: 'sidecar:sc',
        },
        {
          eventId: 'e',
          callId: id,
          type: 'ended',
          status: 'completed',
          occurredAt: behind(80_000),
          source: 'sidecar:sc',
        },
      ],
    ]);
    expect(log.map((e) => e.occurredAt.getTime() - createdAt.getTime())).toEqual([0, 0, 0, 10_000, 20_000]);
    expect(row.dialedAt).toEqual(createdAt);
    expect(row.answeredAt!.getTime() - createdAt.getTime()).toBe(10_000);
  });

  test('an originate reply stamped when it arrived, applied before the ringing it came after, holds the ringing up to it', () => {
    // What the API did before the reply carried dialed_at: the order holds even so.
    const createdAt = new Date('2026-03-01T12:00:00.000Z');
    const id = crypto.randomUUID();
    const at = (ms: number) => new Date(createdAt.getTime() + ms);
    const { row, log } = run(newCall(id, createdAt), [
      [
        {
          eventId: `${id}:dialing`,
          callId: id,
          type: 'dialing',
          status: 'dialing',
          occurredAt: at(500),
          source: 'api',
        },
      ],
      [
        {
          eventId: 'd',
          callId: id,
          type: 'dialing',
          status: 'dialing',
          occurredAt: at(10),
          source: 'sidecar:sc',
        },
        {
          eventId: 'r',
          callId: id,
          type: 'ringing',
          status: 'ringing',
          occurredAt: at(40),
          source: 'sidecar:sc',
        },
        {
          eventId: 'a',
          callId: id,
          type: 'answered',
          status: 'answered',
          occurredAt: at(900),
          source: 'sidecar:sc',
        },
      ],
    ]);
    expect(log.map((e) => [e.type, e.occurredAt.getTime() - createdAt.getTime()])).toEqual([
      ['created', 0],
      ['dialing', 500],
      ['ringing', 500],
      ['answered', 900],
    ]);
    expect(row.dialedAt).toEqual(at(500));
  });
});

describe('planCallEvents: flow events', () => {
  const NAMES = ['choice', 'pin', 'message'] as const;

  /** A flow's step runs: each either a gather/set answer, a recording, an amd, or nothing given. */
  const runs = fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant('digits' as const),
        name: fc.constantFrom(...NAMES),
        value: fc.string(),
      }),
      fc.record({
        kind: fc.constant('recording' as const),
        name: fc.constantFrom(...NAMES),
        ms: fc.nat(600_000),
      }),
      fc.record({ kind: fc.constant('amd' as const), by: fc.constantFrom('human', 'machine', 'unknown') }),
      fc.record({ kind: fc.constant('play' as const) }),
    ),
    { minLength: 1, maxLength: 12 },
  );

  test('any order, batching and repeats: each step run once, the latest run’s answer of a name wins, status never moves', () => {
    fc.assert(
      fc.property(
        runs,
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { minLength: 40, maxLength: 40 }),
        fc.array(fc.nat(3), { minLength: 40, maxLength: 40 }),
        (steps, ended, callEnded, orderKeys, cuts) => {
          const id = crypto.randomUUID();
          const createdAt = new Date('2026-03-01T12:00:00.000Z');
          const call: CallRow = { ...newCall(id, createdAt), status: 'answered', flow: [] };
          const at = (n: number) => new Date(createdAt.getTime() + 1000 * n);
          const inputs: CallEventInput[] = [];
          steps.forEach((s, i) => {
            const run = i + 1;
            const base = { run, segment: 0, step: i, step_id: null };
            const verb =
              s.kind === 'digits'
                ? 'gather'
                : s.kind === 'recording'
                  ? 'record'
                  : s.kind === 'amd'
                    ? 'amd'
                    : 'play';
            const flowEvent = (type: string, flow: CallEventInput['flow']): CallEventInput => ({
              eventId: `${id}:${type}:${run}`,
              callId: id,
              type,
              occurredAt: at(run),
              source: 'sidecar:sc',
              flow,
            });
            inputs.push(flowEvent('step_started', { ...base, verb }));
            inputs.push(
              flowEvent('step_finished', {
                ...base,
                verb,
                ...(s.kind === 'digits' ? { answer: { name: s.name, value: s.value } } : {}),
                ...(s.kind === 'recording'
                  ? {
                      answer: {
                        name: s.name,
                        value: { recording: `${id}-${s.name}-${run}`, duration_ms: s.ms },
                      },
                    }
                  : {}),
                ...(s.kind === 'amd' ? { answered_by: s.by } : {}),
              }),
            );
          });
          if (ended)
            inputs.push({
              eventId: `${id}:flow_ended`,
              callId: id,
              type: 'flow_ended',
              occurredAt: at(steps.length + 1),
              source: 'sidecar:sc',
              flow: {
                run: steps.length,
                segment: 0,
                step: steps.length - 1,
                step_id: null,
                verb: 'play',
                outcome: 'finished',
              },
            });
          if (callEnded)
            inputs.push({
              eventId: `${id}:ended`,
              callId: id,
              type: 'ended',
              status: 'completed',
              occurredAt: at(1),
              source: 'sidecar:sc',
            });
          // Shuffled, each sent once or twice (again under the same id, or under a new one after a restart), cut
          // into batches.
          const sent = inputs
            .flatMap((e, i) => {
              const k = orderKeys[i % 40]! % 3;
              return k === 0 ? [e, e] : k === 1 ? [e, { ...e, eventId: `${e.eventId}:resent` }] : [e];
            })
            .map((e, i) => ({ e, k: orderKeys[i % 40]! * 1000 + i }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.e);
          const batches: CallEventInput[][] = [[]];
          sent.forEach((e, i) => {
            batches.at(-1)!.push(e);
            if (cuts[i % 40] === 0) batches.push([]);
          });

          let row = call;
          const known: KnownEvent[] = [];
          const applied: string[] = [];
          let recordings: unknown[] = [];
          for (const batch of batches.filter((b) => b.length > 0)) {
            const plan = planCallEvents([row], known, batch);
            let status = row.status;
            for (const { values } of plan.inserts) {
              known.push({
                eventId: values.eventId,
                callId: id,
                type: values.type,
                occurredAt: values.occurredAt,
                flow: (values.flow ?? null) as KnownEvent['flow'],
              });
              applied.push(values.eventId);
              // A flow event is recorded with the status the call had then: it moves nothing.
              if (values.type === 'ended') status = 'completed';
              else expect(values.status).toBe(status);
            }
            if (plan.changed[0]) row = plan.changed[0];
            if (plan.recordings.has(id)) recordings = plan.recordings.get(id)!;
          }

          // Each event once, whatever came twice.
          expect(new Set(applied).size).toBe(applied.length);
          expect(applied.length).toBe(inputs.length);
          expect(row.status).toBe(callEnded ? 'completed' : 'answered');

          // The answers: per name, the latest run's.
          const want: Record<string, unknown> = {};
          let by: string | null = null;
          const wantRecordings: Record<string, string> = {};
          steps.forEach((s, i) => {
            if (s.kind === 'digits') {
              want[s.name] = s.value;
              delete wantRecordings[s.name];
            }
            if (s.kind === 'recording') {
              want[s.name] = { recording: `${id}-${s.name}-${i + 1}`, duration_ms: s.ms };
              wantRecordings[s.name] = `${id}-${s.name}-${i + 1}`;
            }
            if (s.kind === 'amd') by = s.by;
          });
          expect(row.answers).toEqual(want);
          expect(row.answeredBy).toBe(by);
          expect(row.flowOutcome).toBe(ended ? 'finished' : null);
          expect(row.flowEndedStep).toBe(ended ? steps.length - 1 : null);
          expect(
            Object.fromEntries(
              (recordings as Array<{ name: string; recording: string }>).map((r) => [r.name, r.recording]),
            ),
          ).toEqual(wantRecordings);

          // Everything again: nothing applies, nothing changes.
          const again = planCallEvents([row], known, inputs);
          expect(again.inserts).toEqual([]);
          expect(again.changed).toEqual([]);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("a flow event for another sidecar's call is unknown_call, and changes nothing", () => {
    const id = crypto.randomUUID();
    const call: CallRow = { ...newCall(id, new Date()), status: 'answered', flow: [] };
    const plan = planCallEvents(
      [call],
      [],
      [
        {
          eventId: 'x',
          callId: id,
          type: 'step_finished',
          occurredAt: new Date(),
          source: 'sidecar:other',
          flow: {
            run: 1,
            segment: 0,
            step: 0,
            step_id: null,
            verb: 'set',
            answer: { name: 'a', value: 'b' },
          },
        },
      ],
      { sidecarId: 'other' },
    );
    expect(plan.out[0]!.result).toBe('unknown_call');
    expect(plan.changed).toEqual([]);
    expect(plan.recordings.size).toBe(0);
  });
});
