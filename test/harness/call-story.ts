import fc from 'fast-check';

/**
 * Generated call histories for property tests of how the API applies call events: what happened to
 * a call, as its two reporters tell it (the sidecar on its own clock, the API on its), and the
 * order, batching and repeats in which those reports reach the API.
 */

export type Milestone = 'dialing' | 'ringing' | 'progress' | 'answered' | 'ended';
type Status = 'dialing' | 'ringing' | 'answered' | 'completed' | 'busy' | 'no_answer' | 'failed' | 'canceled';

export interface StoryEvent {
  eventId: string;
  type: Milestone | 'hangup_requested';
  /** Absent for hangup_requested, which leaves the status as it is. */
  status?: Status;
  reason: string | null;
  occurredAt: Date;
  source: 'api' | 'sidecar';
}

export interface Story {
  /** The sidecar's clock minus the API's. */
  skewMs: number;
  /** From the call's creation to the originate, in true time. */
  dialAfterMs: number;
  /** The sidecar's milestones after the originate (ms after it), in the order they happened. */
  steps: Array<{ type: Milestone; status: Status; reason: string | null; afterMs: number }>;
  /** The originate reply: how much later than the originate the API gets it, and whether it says when. */
  reply: { lagMs: number; carriesDialedAt: boolean } | null;
  /** A hang-up asked through the API, ms after creation. */
  hangupAtMs: number | null;
  /** An end the API records itself (sidecar unreachable, refused), ms after creation. */
  apiEnd: { status: 'failed' | 'canceled'; reason: string; atMs: number } | null;
  /** Delivery: a permutation key per event, the events sent again, and where batches are cut. */
  orderKeys: number[];
  repeats: number[];
  cuts: number[];
}

const ms = (max: number) => fc.integer({ min: 0, max });

const story: fc.Arbitrary<Story> = fc
  .record({
    skewMs: fc.oneof(fc.integer({ min: -2000, max: 2000 }), fc.integer({ min: -3_600_000, max: 3_600_000 })),
    dialAfterMs: ms(5000),
    dialed: fc.boolean(),
    ringing: fc.boolean(),
    progress: fc.boolean(),
    answered: fc.boolean(),
    ended: fc.boolean(),
    gaps: fc.array(ms(30_000), { minLength: 5, maxLength: 5 }),
    unansweredEnd: fc.constantFrom<[Status, string]>(
      ['busy', 'busy'],
      ['no_answer', 'timeout'],
      ['failed', 'congestion'],
      ['canceled', 'hangup_requested'],
    ),
    answeredEnd: fc.constantFrom<[Status, string]>(['completed', 'normal'], ['failed', 'pbx_routing']),
    reply: fc.option(fc.record({ lagMs: ms(3000), carriesDialedAt: fc.boolean() }), { nil: null }),
    hangupAtMs: fc.option(ms(60_000), { nil: null }),
    apiEnd: fc.option(
      fc.record({
        status: fc.constantFrom<'failed' | 'canceled'>('failed', 'canceled'),
        reason: fc.constantFrom('pbx_unreachable', 'hangup_requested'),
        atMs: ms(60_000),
      }),
      { nil: null },
    ),
    orderKeys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 12, maxLength: 12 }),
    repeats: fc.array(fc.nat(11), { maxLength: 4 }),
    cuts: fc.array(fc.nat(16), { maxLength: 4 }),
  })
  .map((g): Story => {
    const steps: Story['steps'] = [];
    let at = 0;
    const push = (type: Milestone, status: Status, reason: string | null, gap: number) => {
      at += gap;
      steps.push({ type, status, reason, afterMs: at });
    };
    if (g.dialed) {
      push('dialing', 'dialing', null, 0);
      if (g.ringing) push('ringing', 'ringing', null, g.gaps[0]!);
      if (g.progress) push('progress', 'ringing', null, g.gaps[1]!);
      if (g.answered) push('answered', 'answered', null, g.gaps[2]!);
    }
    // A call the sidecar never dialed (queued, then canceled or refused) can still end.
    if (g.ended) {
      const [status, reason] = g.dialed && g.answered ? g.answeredEnd : g.unansweredEnd;
      push('ended', status, reason, g.gaps[3]!);
    }
    return {
      skewMs: g.skewMs,
      dialAfterMs: g.dialAfterMs,
      steps,
      reply: g.dialed ? g.reply : null,
      hangupAtMs: g.hangupAtMs,
      apiEnd: g.apiEnd,
      orderKeys: g.orderKeys,
      repeats: g.repeats,
      cuts: g.cuts,
    };
  });

export const callStory = (): fc.Arbitrary<Story> => story;

/** The events of a story for call `callId` created at `createdAt`, each stamped by its reporter's clock. */
export function storyEvents(s: Story, callId: string, createdAt: Date, only?: 'sidecar'): StoryEvent[] {
  const created = createdAt.getTime();
  const dial = created + s.dialAfterMs;
  const events: StoryEvent[] = s.steps.map((step) => ({
    eventId: `${callId}:sidecar:${step.type}`,
    type: step.type,
    status: step.status,
    reason: step.reason,
    occurredAt: new Date(dial + step.afterMs + s.skewMs),
    source: 'sidecar',
  }));
  if (only === 'sidecar') return events;
  if (s.reply) {
    events.push({
      eventId: `${callId}:dialing`,
      type: 'dialing',
      status: 'dialing',
      reason: null,
      occurredAt: new Date(s.reply.carriesDialedAt ? dial + s.skewMs : dial + s.reply.lagMs),
      source: 'api',
    });
  }
  if (s.hangupAtMs !== null) {
    events.push({
      eventId: `${callId}:hangup_requested`,
      type: 'hangup_requested',
      reason: null,
      occurredAt: new Date(created + s.hangupAtMs),
      source: 'api',
    });
  }
  if (s.apiEnd) {
    events.push({
      eventId: `${callId}:ended`,
      type: 'ended',
      status: s.apiEnd.status,
      reason: s.apiEnd.reason,
      occurredAt: new Date(created + s.apiEnd.atMs),
      source: 'api',
    });
  }
  return events;
}

/** The story's events in the order, repeats and batches the API receives them. */
export function deliveries<T>(s: Story, events: T[]): T[][] {
  const order = events
    .map((event, i) => ({ event, key: s.orderKeys[i % s.orderKeys.length]! + i * 1e-9 }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.event);
  for (const r of s.repeats) {
    if (order.length === 0) break;
    const repeated = order[r % order.length]!;
    order.splice((r * 7) % (order.length + 1), 0, repeated);
  }
  const cuts = [...new Set(s.cuts.map((c) => c % (order.length + 1)))].sort((a, b) => a - b);
  const batches: T[][] = [];
  let from = 0;
  for (const cut of [...cuts, order.length]) {
    if (cut > from) batches.push(order.slice(from, cut));
    from = Math.max(from, cut);
  }
  return batches;
}
