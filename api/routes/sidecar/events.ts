import { createRoute, type z } from '@hono/zod-openapi';
import { touchSidecar } from '../../../db/queries/misc.ts';
import { recordEvents } from '../../calls/record.ts';
import { ApiError } from '../../errors.ts';
import {
  API_EVENTS_PATH,
  EventBatch,
  EventBatchAck,
  FLOW_EVENT_TYPES,
  sidecarPrincipal,
  TYP_EVENTS,
} from '../../shared/contract/index.ts';
import { type App, errorResponses } from '../openapi.ts';
import { jsonOnly, signedBody, signedBySidecar } from './signed.ts';

const isFlowEventType = (type: string) => (FLOW_EVENT_TYPES as readonly string[]).includes(type);

/** A flow event carries its step (`flow`); a milestone carries none. */
function flowDetailMismatches(batch: EventBatch) {
  return batch.events.flatMap((e, i) => {
    const flow = isFlowEventType(e.type);
    if (flow === (e.flow !== null)) return [];
    const message = flow
      ? `a ${e.type} event needs its flow detail`
      : `a ${e.type} event carries no flow detail`;
    return [{ path: `body.events.${i}.flow`, message, code: flow ? 'required' : 'unexpected' }];
  });
}

export const sidecarEventsRoute = createRoute({
  method: 'post',
  path: API_EVENTS_PATH,
  tags: ['Sidecar'],
  summary: 'Receive a batch of call events from a sidecar',
  description:
    'Internal: sidecars post the call events they derived from ARI here. The batch must be signed by the ' +
    'sidecar’s Ed25519 key (`Authorization: Bearer`, typ outdial-events+jwt, bound to this method, path and ' +
    'body hash, single-use). Events are applied idempotently and in order; a finished call never changes again.',
  security: [{ sidecarSignature: [] }],
  request: {
    body: { required: true, content: { 'application/json': { schema: EventBatch } } },
  },
  responses: {
    200: {
      description: 'What became of each event',
      content: {
        'application/json': {
          schema: EventBatchAck,
          example: {
            batch_id: 'default-1795449478-17',
            results: [{ event_id: 'default-5b0f8a52-3', result: 'applied' }],
          },
        },
      },
    },
    ...errorResponses(400, 401, 413, 415, 422, 500, 503),
  },
});

const signedBatch = signedBySidecar(TYP_EVENTS);

/**
 * A sidecar's `last_seen_at` is written at most twice a second per process from its batches (it
 * sends one or more per call; what reads it counts silence in tens of seconds, and the lease route,
 * the heartbeat, writes it every time).
 */
const TOUCH_EVERY_MS = 500;
const lastTouched = new Map<string, number>();
function heardFrom(sidecarId: string, now: number): boolean {
  const last = lastTouched.get(sidecarId);
  if (last !== undefined && now - last < TOUCH_EVERY_MS && now >= last) return false;
  lastTouched.set(sidecarId, now);
  return true;
}

// The body is verified as raw bytes before it is parsed, so the route is documented through the
// registry but handled without zod-openapi's body validator.
export const registerSidecarEvents = (app: App) => {
  app.openAPIRegistry.registerPath(sidecarEventsRoute);
  app.post(API_EVENTS_PATH, jsonOnly, signedBatch, async (c) => {
    const services = c.get('services');
    const { body: batch, sidecarId } = signedBody(c, EventBatch);
    const mismatched = flowDetailMismatches(batch);
    if (mismatched.length > 0) {
      throw new ApiError('validation_error', `${mismatched[0]!.path}: ${mismatched[0]!.message}`, {
        errors: mismatched,
      });
    }
    const applied = await recordEvents(
      services,
      batch.events.map((e) => ({
        eventId: e.event_id,
        callId: e.call_id,
        type: e.type,
        // A flow event leaves the status as it is, whatever the sidecar thought it was.
        ...(isFlowEventType(e.type) ? { flow: e.flow } : { status: e.status }),
        occurredAt: new Date(e.occurred_at),
        reason: e.reason,
        hangupCause: e.hangup_cause,
        hangupCauseTxt: e.hangup_cause_txt,
        dialStatus: e.dial_status,
        channel: e.channel,
        source: sidecarPrincipal(sidecarId),
      })),
      { sidecarId },
    );
    const counts = new Map<string, number>();
    for (const a of applied) counts.set(a.result, (counts.get(a.result) ?? 0) + 1);
    for (const [result, n] of counts) services.metrics.eventsApplied(result, n);
    if (heardFrom(sidecarId, Date.now())) {
      services.background(touchSidecar(services.db, sidecarId).catch(() => undefined));
    }
    const ack: z.infer<typeof EventBatchAck> = {
      batch_id: batch.batch_id,
      results: applied.map((a) => ({ event_id: a.input.eventId, result: a.result })),
    };
    return c.json(ack, 200);
  });
};
