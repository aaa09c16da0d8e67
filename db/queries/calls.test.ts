import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { type CallStatus, isTerminal } from '../../api/shared/contract/index.ts';
import { callStory, deliveries, type StoryEvent, storyEvents } from '../../test/harness/call-story.ts';
import { timelineProblem } from '../../test/harness/checks.ts';
import { type CallEventInput, type CallRow, type KnownEvent, planCallEvents } from './calls.ts';

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
