import { z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { LiveEventRow } from '../../../db/queries/live.ts';
import { readableCallsOwner } from '../../calls/access.ts';
import { presentEvent } from '../../calls/present.ts';
import { CampaignProgressSchema } from '../../campaigns/bodies.ts';
import { ApiError } from '../../errors.ts';
import { requireAuth } from '../../middleware/auth.ts';
import { type CallStatus, type CampaignProgress, isCallStatus } from '../../shared/contract/index.ts';
import { type App, errorResponses, scopedSecurity } from '../openapi.ts';

const CURSOR = /^\d{1,18}$/;
/** Seconds a client refused for having too many streams open is told to wait. */
const STREAMS_RETRY_AFTER = 5;
/** Events written at once before the stream yields to other work. */
const WRITE_BATCH = 100;

/** One `event: call` frame (JSON has no line breaks, so the data is one line). */
const callFrame = (e: LiveEventRow) =>
  `event: call\ndata: ${JSON.stringify(presentEvent(e))}\nid: ${e.id}\n\n`;
/**
 * One `event: campaign` frame: a snapshot, with no `id:` line, so that the client's Last-Event-ID
 * stays the last call event's and a resume is not moved by it.
 */
const campaignFrame = (p: CampaignProgress) => `event: campaign\ndata: ${JSON.stringify(p)}\n\n`;
const KINDS = ['call', 'campaign'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const StreamQuerySchema = z.object({
  call_id: z
    .string()
    .optional()
    .openapi({
      param: { name: 'call_id', in: 'query' },
      description: 'Only these calls (comma-separated ids, or the parameter repeated)',
      example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b',
    }),
  campaign_id: z
    .string()
    .optional()
    .openapi({
      param: { name: 'campaign_id', in: 'query' },
      description: 'Only these campaigns’ progress (comma-separated ids, or the parameter repeated)',
      example: '3c1a9e4f-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
    }),
  kind: z
    .string()
    .optional()
    .openapi({
      param: { name: 'kind', in: 'query' },
      description:
        'Which frames (comma-separated): `call` (call events), `campaign` (campaigns’ progress). Default: ' +
        'both, or only `call` when call_id or status is given without campaign_id, only `campaign` when ' +
        'campaign_id is given without either',
      example: 'campaign',
    }),
  status: z
    .string()
    .optional()
    .openapi({
      param: { name: 'status', in: 'query' },
      description: 'Only events that moved a call to these statuses (comma-separated)',
      example: 'answered,completed',
    }),
  last_event_id: z
    .string()
    .optional()
    .openapi({
      param: { name: 'last_event_id', in: 'query' },
      description: 'Resume after this event id (for clients that cannot send the Last-Event-ID header)',
      example: '1041',
    }),
});

function fieldError(path: string, message: string): ApiError {
  return new ApiError('validation_error', `${path}: ${message}`, {
    errors: [{ path, message, code: 'invalid' }],
  });
}

function parseList(
  raw: string | undefined,
  path: string,
  check: (v: string) => boolean,
  what: string,
): string[] {
  if (!raw) return [];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length > 100) throw fieldError(path, 'at most 100 values');
  for (const item of items) if (!check(item)) throw fieldError(path, `"${item.slice(0, 60)}" is not ${what}`);
  return items;
}

/**
 * GET /api/v2/events: server-sent events of the calls the caller may read (readableCallsOwner).
 * Each event's `id:` is its global id; reconnecting with `Last-Event-ID` resumes after it with no gap
 * and no duplicate, across API restarts, because the log is in the database, within a window of
 * SSE_CATCHUP_MAX_EVENTS (further behind, the stream starts afresh and says so). Comments keep the
 * connection alive; a client that reads too slowly is disconnected (and can resume) rather than
 * making the server buffer without end. A user has at most SSE_MAX_STREAMS_PER_USER streams open.
 * The stream delivers nothing once its token expires or stops being valid, or the user's role
 * changes, and ends (the hub checks before every delivery, and every second). Beside the calls, the
 * progress of the campaigns the caller may read comes as snapshots without an id (see EventHub).
 */
export const registerLiveStream = (app: App) => {
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/api/v2/events',
    tags: ['Live status'],
    summary: 'Live call events and campaign progress (server-sent events)',
    description:
      'A `text/event-stream` of call events: `event: call`, `id:` the event id (a resumable cursor), `data:` the event ' +
      '(as in the call’s event log) as JSON. Send `Last-Event-ID` (or `last_event_id`) to resume; without it the ' +
      'stream starts with the next event. Comment lines are heartbeats. A cursor more than SSE_CATCHUP_MAX_EVENTS ' +
      'events behind is not caught up: the stream starts with the next event and its `ready` frame says ' +
      '`"missed": true` (re-list, then follow). At most SSE_MAX_STREAMS_PER_USER streams per user are open at ' +
      'once (429 with Retry-After beyond). The stream ends, delivering nothing more, when its token expires or is ' +
      'revoked, or the user logs out everywhere, gets a new password, is deactivated or changes role.\n\n' +
      'Campaigns’ progress comes as `event: campaign` frames whose `data:` is a CampaignProgress (the ' +
      'campaign’s state and counters, as in the campaign, and `at`): a snapshot, sent when the state or the ' +
      'counters changed, at most one per campaign per CAMPAIGN_PROGRESS_STREAM_MS, the last showing where ' +
      'the campaign ended (completed or canceled). They have no `id:`: they do not move the resume cursor, ' +
      'and a resumed stream is not caught up on them (its first frames show each running campaign as it ' +
      'is). The campaigns shown are those the caller may read, as for calls.',
    security: scopedSecurity('calls:read'),
    request: {
      query: StreamQuerySchema,
      headers: z.object({
        'last-event-id': z
          .string()
          .optional()
          .openapi({
            param: { name: 'last-event-id', in: 'header' },
            description: 'Resume after this event id',
            example: '1041',
          }),
      }),
    },
    responses: {
      200: {
        description: 'The stream',
        content: {
          'text/event-stream': {
            schema: z.string().openapi({ example: 'id: 1042\nevent: call\ndata: {"sequence":3,...}\n\n' }),
          },
        },
      },
      ...errorResponses(401, 403, 422, 429, 500, 503),
    },
  });

  app.openAPIRegistry.register('CampaignProgress', CampaignProgressSchema);

  app.get('/api/v2/events', requireAuth('calls:read'), async (c) => {
    const services = c.get('services');
    const user = c.get('user');
    const q = c.req.query();
    // A list may be comma-separated, or the parameter repeated (or both).
    const all = (name: string) => c.req.queries(name)?.join(',');
    const callIds = parseList(all('call_id'), 'query.call_id', (v) => UUID.test(v), 'a call id');
    const statuses = parseList(all('status'), 'query.status', isCallStatus, 'a status') as CallStatus[];
    const campaignIds = parseList(
      all('campaign_id'),
      'query.campaign_id',
      (v) => UUID.test(v),
      'a campaign id',
    );
    const kinds = parseList(
      all('kind'),
      'query.kind',
      (v) => (KINDS as readonly string[]).includes(v),
      'call or campaign',
    );
    const narrowsCalls = callIds.length > 0 || statuses.length > 0;
    const wants = (kind: (typeof KINDS)[number]) =>
      kinds.length > 0
        ? kinds.includes(kind)
        : kind === 'call'
          ? narrowsCalls || campaignIds.length === 0
          : campaignIds.length > 0 || !narrowsCalls;
    const header = c.req.header('last-event-id');
    const rawCursor = header ?? q.last_event_id;
    if (rawCursor !== undefined && !CURSOR.test(rawCursor.trim()))
      throw fieldError(
        header === undefined ? 'query.last_event_id' : 'header.last-event-id',
        'must be an event id',
      );
    const afterId = rawCursor === undefined ? null : Number(rawCursor.trim());
    const { config, live, metrics } = services;
    const release = await live.admit(user.id);
    if (!release) {
      throw new ApiError(
        'rate_limited',
        `At most ${config.SSE_MAX_STREAMS_PER_USER} live event streams per user may be open at once; close one or try again later`,
        { retryAfter: STREAMS_RETRY_AFTER },
      );
    }
    const grant = {
      userId: user.id,
      jti: user.jti,
      tokenVersion: user.tokenVersion,
      role: user.role,
      expiresAt: user.tokenExpiresAt,
      keyId: user.keyId,
    };
    const ownerId = readableCallsOwner(user);
    const expired = () => Date.now() >= user.tokenExpiresAt.getTime();
    // The stream starts after `start`: everything up to it is in the database already, so a client
    // that (re)loads its view after the `ready` frame misses nothing.
    let resume: { start: number; missed: boolean };
    try {
      resume = await live.resumePoint(ownerId, afterId);
    } catch (error) {
      await release();
      throw error;
    }
    const { start, missed } = resume;

    c.header('Cache-Control', 'no-cache, no-transform');
    c.header('X-Accel-Buffering', 'no');
    return streamSSE(c, async (stream) => {
      // Frames as they go out: call events and campaign snapshots, in the order the hub handed them.
      const queue: string[] = [];
      let closed = false;
      let wake: (() => void) | null = null;
      let drainedWaiters: Array<() => void> = [];
      const poke = () => {
        const w = wake;
        wake = null;
        w?.();
      };
      const settleDrained = () => {
        if (queue.length > 0 && !closed) return;
        const waiters = drainedWaiters;
        drainedWaiters = [];
        for (const w of waiters) w();
      };
      stream.onAbort(() => {
        closed = true;
        poke();
      });
      metrics.sseClients(1);
      let unsubscribe = null as (() => void) | null;
      try {
        await stream.writeSSE({
          event: 'ready',
          data: JSON.stringify({ after: String(start), resumed: afterId !== null && !missed, missed }),
          retry: 2000,
        });
        // Catching up waits for the writer below to drain, so the subscription runs beside it.
        const subscribed = live
          .subscribe(
            { ownerId, callIds, statuses, calls: wants('call'), campaigns: wants('campaign'), campaignIds },
            start,
            {
              deliver(events) {
                if (closed) return false;
                if (queue.length + events.length > config.SSE_MAX_BUFFERED) return false;
                queue.push(...events.map(callFrame));
                poke();
                return true;
              },
              progress(snapshots) {
                if (closed) return false;
                if (queue.length + snapshots.length > config.SSE_MAX_BUFFERED) return false;
                queue.push(...snapshots.map(campaignFrame));
                poke();
                return true;
              },
              close() {
                closed = true;
                poke();
                settleDrained();
              },
              drained() {
                if (queue.length === 0 || closed) return Promise.resolve();
                return new Promise<void>((resolve) => drainedWaiters.push(resolve));
              },
            },
            grant,
          )
          .then((stop) => {
            unsubscribe = stop;
            if (closed) stop();
          })
          .catch((error) => {
            c.get('logger').warn('live subscription failed', { error });
            closed = true;
            poke();
          });
        void subscribed;
        let nextBeat = Date.now() + config.SSE_HEARTBEAT_MS;
        while (!closed) {
          if (queue.length === 0) {
            const wait = Math.max(0, Math.min(nextBeat, user.tokenExpiresAt.getTime()) - Date.now());
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(poke, wait);
            });
          }
          // The hub closes the stream when its grant no longer holds; what it queued before stays unsent.
          // A long catch-up goes out a batch per write, and lets other requests run between batches.
          while (!closed && !expired() && queue.length > 0) {
            await stream.write(queue.splice(0, WRITE_BATCH).join(''));
            if (queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 0));
          }
          settleDrained();
          if (closed || expired()) break;
          if (Date.now() >= nextBeat) {
            nextBeat = Date.now() + config.SSE_HEARTBEAT_MS;
            await stream.write(': keep-alive\n\n');
          }
        }
      } finally {
        closed = true;
        settleDrained();
        unsubscribe?.();
        metrics.sseClients(-1);
        await release();
      }
    });
  });
};
