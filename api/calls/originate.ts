import type { CallEventInput } from '../../db/queries/call-event-plan.ts';
import {
  type CallRow,
  getCall,
  insertCall,
  markHangupRequested,
  reassignCallSidecar,
} from '../../db/queries/calls.ts';
import { FlowArchivedError } from '../../db/queries/flows.ts';
import { recordSidecarCapacity, sidecarLoads, writeAudit } from '../../db/queries/misc.ts';
import { ApiError } from '../errors.ts';
import { resolveCallFlow } from '../flows/resolve.ts';
import type { Services } from '../services.ts';
import type { Logger } from '../shared/base/log.ts';
import { type Flow, type HangupOutcome, isTerminal, type OriginateReply } from '../shared/contract/index.ts';
import { checkWebhookUrl, webhookPolicy } from '../webhooks/policy.ts';
import { originateCommandOf } from './command.ts';
import { recordEvents, recordedBySidecar } from './record.ts';
import { isSidecarUnreachable, type SidecarUnreachableError } from './sidecar-client.ts';
import { planWebhook } from './webhook-plan.ts';

export interface OriginateInput {
  ownerId: string;
  phoneNumber: string;
  context?: string | undefined;
  extension?: string | undefined;
  priority?: number | undefined;
  timeoutMs?: number | undefined;
  callerId?: string | undefined;
  variables?: Record<string, string> | undefined;
  statusCallback?: string | undefined;
  statusCallbackEvents?: string[] | undefined;
  traceparent?: string | undefined;
  /** The flow the call runs once answered: its own steps, or a saved flow by id (and version). */
  flow?: Flow | undefined;
  flowId?: string | undefined;
  flowVersion?: number | undefined;
  /** Whose saved flows the caller may use (null: any); set by the route, not part of the request. */
  flowOwner?: string | null | undefined;
  /** The sidecar the caller names; without it the least loaded usable one takes the call. */
  sidecarId?: string | undefined;
}

export interface RequestMeta {
  requestId: string;
  clientAddress: string | null;
  /** The API key the request came with, named in the audit log. */
  actorKeyId?: string | null;
  logger: Logger;
  /** Runs once the request is known to be valid, before the call is stored (the rate limit). */
  admit?: () => Promise<void>;
}

export interface OriginateOutcome {
  call: CallRow;
  success: boolean;
  message: string;
  error: string | null;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Seconds a caller should wait before retrying when no sidecar can take the call. */
const UNREACHABLE_RETRY_AFTER = 5;

function apiEvent(call: CallRow, type: string, fields: Partial<CallEventInput>): CallEventInput {
  return {
    eventId: `${call.id}:${type}`,
    callId: call.id,
    type,
    occurredAt: new Date(),
    source: 'api',
    ...fields,
  };
}

/**
 * Accepts a call: checks the context against the allow-list, stores it as `pending`, hands the
 * signed originate command to the sidecar and records what it answered. When no sidecar can take
 * the call, the call ends `failed`/`pbx_unreachable` and the caller gets a 503 with Retry-After.
 */
export async function originateCall(
  services: Services,
  input: OriginateInput,
  meta: RequestMeta,
): Promise<OriginateOutcome> {
  const { config, db, metrics } = services;
  const context = input.context ?? config.DEFAULT_CONTEXT;
  if (!config.ALLOWED_CONTEXTS.includes(context)) {
    throw new ApiError('validation_error', `body.context: "${context}" is not an allowed context`, {
      errors: [{ path: 'body.context', message: 'is not an allowed context', code: 'not_allowed' }],
    });
  }
  if (input.sidecarId !== undefined && !services.sidecars.has(input.sidecarId)) {
    throw new ApiError(
      'validation_error',
      `body.sidecar_id: "${input.sidecarId}" is not a configured sidecar`,
      {
        errors: [{ path: 'body.sidecar_id', message: 'is not a configured sidecar', code: 'unknown' }],
      },
    );
  }
  if (input.statusCallback) {
    const why = checkWebhookUrl(input.statusCallback, webhookPolicy(config));
    if (why) {
      throw new ApiError('validation_error', `body.status_callback: ${why}`, {
        errors: [{ path: 'body.status_callback', message: why, code: 'not_allowed' }],
      });
    }
  }
  const flow = await resolveCallFlow(
    services,
    input,
    input.flowOwner === undefined ? input.ownerId : input.flowOwner,
  );
  await meta.admit?.();
  const callerId = input.callerId ?? (config.DEFAULT_CALLER_ID || null);
  const traceparent =
    input.traceparent && TRACEPARENT.test(input.traceparent) ? input.traceparent : undefined;
  const order = await sidecarOrder(services, input.sidecarId);
  // Counted in this instance's view of the sidecar's load until the stored call counts itself.
  const release = services.sidecars.reserve(order[0]!);
  let inserted: Awaited<ReturnType<typeof insertCall>>;
  try {
    inserted = await insertCall(
      db,
      {
        id: crypto.randomUUID(),
        ownerId: input.ownerId,
        phoneNumber: input.phoneNumber,
        context,
        extension: input.extension ?? config.DEFAULT_EXTENSION,
        priority: input.priority ?? config.DEFAULT_PRIORITY,
        timeoutMs: input.timeoutMs ?? config.DEFAULT_TIMEOUT,
        callerId,
        variables: input.variables ?? {},
        sidecarId: order[0]!,
        statusCallback: input.statusCallback ?? null,
        statusCallbackEvents: input.statusCallbackEvents ?? null,
        traceparent: traceparent ?? null,
        flow: flow?.steps ?? null,
        flowId: flow?.flowId ?? null,
        flowVersion: flow?.flowVersion ?? null,
      },
      { webhook: planWebhook },
    );
  } catch (error) {
    if (error instanceof FlowArchivedError)
      throw new ApiError('flow_archived', 'The flow is archived: it takes no new calls', {
        errors: [{ path: 'body.flow_id', message: 'is an archived flow', code: 'archived' }],
      });
    throw error;
  } finally {
    release();
  }
  const created = inserted.call;
  services.eventsRecorded({ deliveries: inserted.delivery });
  const log = meta.logger.child({ call_id: created.id });
  services.background(
    writeAudit(db, {
      actorId: input.ownerId,
      actorKeyId: meta.actorKeyId ?? null,
      action: 'call.create',
      targetType: 'call',
      targetId: created.id,
      clientAddress: meta.clientAddress,
      requestId: meta.requestId,
      details: {
        phone_number: created.phoneNumber,
        context,
        ...(flow?.flowId ? { flow_id: flow.flowId, flow_version: flow.flowVersion } : {}),
      },
    }).catch((error) => log.error('audit write failed', { error })),
  );
  metrics.callLaunched();

  const started = performance.now();
  const command = originateCommandOf(created, created.createdAt);
  let reply: OriginateReply | undefined;
  let unreachable: SidecarUnreachableError | undefined;
  for (const [i, sidecarId] of order.entries()) {
    const last = i === order.length - 1;
    // The command never reached the one before: the call now belongs to this one, whose events it takes.
    if (i > 0) await reassignCallSidecar(db, created.id, sidecarId);
    try {
      reply = await services.sidecars.run(sidecarId, (client) => client.originate(command));
    } catch (error) {
      if (!isSidecarUnreachable(error)) throw error;
      unreachable = error;
      log.warn('sidecar unreachable', { sidecar: sidecarId, error: error.message });
      // Only a command that surely never arrived may go to another sidecar: one that may have
      // arrived could ring there, and a second sidecar would ring the callee again.
      if (error.notDelivered && !last) continue;
      if (!error.notDelivered) {
        // The command may have arrived even though no answer came back: ask for a hang-up so that a
        // call we report as failed can never ring on (past the breaker, which may have just opened).
        services.background(
          services.sidecars
            .clientFor(sidecarId)!
            .hangup({ call_id: created.id, requested_at: new Date().toISOString() })
            .catch(() => undefined),
        );
      }
      break;
    }
    unreachable = undefined;
    if (reply.outcome === 'unavailable') {
      if (reply.reason === 'breaker_open') services.sidecars.pbxRefusing(sidecarId, reply.retry_after_s);
      // It took nothing (its breaker is open, its queue full): the next one may.
      if (!last) {
        log.info('sidecar cannot take the call; trying the next', {
          sidecar: sidecarId,
          reason: reply.reason,
        });
        continue;
      }
    }
    break;
  }
  if (unreachable || !reply) {
    metrics.observeOriginate((performance.now() - started) / 1000, 'unreachable');
    await failUnreachable(services, created);
    throw new ApiError(
      'pbx_unavailable',
      input.sidecarId !== undefined
        ? `The sidecar "${input.sidecarId}" cannot be reached or its circuit breaker is open; the call was not placed`
        : order.length > 1
          ? 'No sidecar can be reached (each is down or its circuit breaker is open); the call was not placed'
          : 'The PBX cannot be reached; the call was not placed',
      { retryAfter: UNREACHABLE_RETRY_AFTER },
    );
  }
  metrics.observeOriginate((performance.now() - started) / 1000, reply.outcome);

  switch (reply.outcome) {
    case 'dialing': {
      metrics.callAccepted();
      // Usually the sidecar's own batch with the call's dialing has been (or is being) written here
      // meanwhile: then this answer's milestone could not apply, and the call is as that batch left it.
      const call =
        (await recordedBySidecar(created.id, 'dialing')) ??
        // The sidecar's time of the dialing, not this reply's arrival: by now the call may have rung.
        (await applyAndGet(services, created, [
          apiEvent(created, 'dialing', {
            status: 'dialing',
            channel: reply.channel,
            ...(reply.dialed_at ? { occurredAt: new Date(reply.dialed_at) } : {}),
          }),
        ]));
      return acceptedAnswer(call);
    }
    case 'queued': {
      metrics.callAccepted();
      return {
        call: (await getCall(db, created.id)) ?? created,
        success: true,
        message: `Call is queued for dialing (position ${reply.position})`,
        error: null,
      };
    }
    case 'finished': {
      const call = (await getCall(db, created.id)) ?? created;
      return {
        call,
        success: call.status === 'completed',
        message: `Call already ${reply.status}`,
        error: null,
      };
    }
    case 'rejected': {
      metrics.callFailed(reply.reason);
      const call = await applyAndGet(services, created, [
        apiEvent(created, 'ended', { status: 'failed', reason: reply.reason }),
      ]);
      log.info('originate rejected by the PBX', { reason: reply.reason, ari_status: reply.ari_status });
      return { call, success: false, message: 'The PBX refused the call', error: reply.detail };
    }
    case 'unavailable': {
      log.warn('sidecar cannot take calls now', { reason: reply.reason });
      await failUnreachable(services, created);
      throw new ApiError(
        'pbx_unavailable',
        reply.reason === 'queue_full'
          ? 'Too many calls are waiting to be dialled; the call was not placed'
          : 'The PBX is unavailable; the call was not placed',
        { retryAfter: reply.retry_after_s },
      );
    }
  }
}

/**
 * The sidecars to try, in order: the one the caller named alone, or the whole fleet ranked by load
 * (one query counting each one's calls not yet final; a single sidecar needs none).
 */
async function sidecarOrder(services: Services, named: string | undefined): Promise<string[]> {
  const fleet = services.sidecars;
  fleet.recheck(services.background, (id, capacity) => recordSidecarCapacity(services.db, id, capacity));
  if (named !== undefined) return [named];
  if (fleet.ids.length === 1) return fleet.ids;
  return fleet.rank(await sidecarLoads(services.db, fleet.ids)).map((c) => c.id);
}

async function failUnreachable(services: Services, call: CallRow): Promise<void> {
  services.metrics.callFailed('pbx_unreachable');
  await recordEvents(services, [apiEvent(call, 'ended', { status: 'failed', reason: 'pbx_unreachable' })]);
}

/**
 * The answer to an originate the PBX accepted says so: `dialing` (the contract's word for it, which
 * clients of the replaced service compare against), though its events may have taken the call further
 * by then (ringing, answered: a read or the call's events show it); a call that has already ended is
 * answered with its final status.
 */
function acceptedAnswer(call: CallRow) {
  const ended = isTerminal(call.status);
  return {
    call: ended ? call : { ...call, status: 'dialing' as const },
    success: true,
    message: ended ? `Call already ${call.status}` : 'Call is dialing',
    error: null,
  };
}

async function applyAndGet(services: Services, call: CallRow, events: CallEventInput[]): Promise<CallRow> {
  const applied = await recordEvents(services, events);
  return applied.at(-1)?.call ?? (await getCall(services.db, call.id)) ?? call;
}

/**
 * Asks for a call to be hung up. Before the answer this makes it `canceled`, after it `completed`;
 * the sidecar reports which. A call the sidecar never received ends `canceled` here.
 */
export async function hangupCall(services: Services, call: CallRow, meta: RequestMeta & { actorId: string }) {
  if (isTerminal(call.status)) {
    throw new ApiError('call_already_ended', `The call already ended (${call.status})`);
  }
  await markHangupRequested(services.db, call.id);
  await recordEvents(services, [apiEvent(call, 'hangup_requested', {})]);
  services.background(
    writeAudit(services.db, {
      actorId: meta.actorId,
      actorKeyId: meta.actorKeyId ?? null,
      action: 'call.hangup',
      targetType: 'call',
      targetId: call.id,
      clientAddress: meta.clientAddress,
      requestId: meta.requestId,
    }).catch((error) => meta.logger.error('audit write failed', { error })),
  );
  const sidecarId = call.sidecarId ?? services.sidecars.ids[0]!;
  if (!services.sidecars.has(sidecarId)) {
    throw new ApiError(
      'pbx_unavailable',
      `The call's sidecar "${sidecarId}" is not one this API is configured with; the hang-up cannot be sent`,
      { retryAfter: UNREACHABLE_RETRY_AFTER },
    );
  }
  let outcome: HangupOutcome;
  try {
    outcome = (
      await services.sidecars.run(sidecarId, (client) =>
        client.hangup({ call_id: call.id, requested_at: new Date().toISOString() }),
      )
    ).outcome;
  } catch (error) {
    if (!isSidecarUnreachable(error)) throw error;
    throw new ApiError('pbx_unavailable', 'The PBX cannot be reached; try the hang-up again', {
      retryAfter: UNREACHABLE_RETRY_AFTER,
    });
  }
  const current = (await getCall(services.db, call.id)) ?? call;
  if (outcome === 'canceled' || (outcome === 'not_found' && current.status === 'pending')) {
    return applyAndGet(services, current, [
      apiEvent(current, 'ended', { status: 'canceled', reason: 'hangup_requested' }),
    ]);
  }
  return current;
}
