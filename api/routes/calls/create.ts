import { createRoute } from '@hono/zod-openapi';
import { OriginateResponseSchema } from '../../calls/bodies.ts';
import { type App, errorResponses, guarded, RateLimitHeaders } from '../openapi.ts';
import { handleOriginate } from './originate-handler.ts';
import { CreateCallBodySchema, IdempotencyHeaderSchema } from './schema.ts';

/** The operation's description (CommonMark): what the body takes, what the answer means. */
const PLACE_CALL = `Takes \`phone_number\` (an optional \`+\` then ASCII digits, 7–20 characters) and optionally \`context\`
(one of \`ALLOWED_CONTEXTS\`), \`extension\`, \`priority\` (1–10), \`timeout\` (milliseconds, 1–600000,
rounded up to whole seconds for the PBX), \`caller_id\`, \`variables\` (at most 20, names a letter then
letters/digits/\`_\`, values without control characters), \`status_callback\` and
\`status_callback_events\` (see Webhooks), and what the call does once answered: \`flow\` (its steps,
see Flows) or \`flow_id\` (a saved flow, with \`flow_version\` or its latest version), not both. A flow
that does not pass its checks is a 422 whose errors point into the body (\`/flow/2/verb\`); a saved
flow the caller cannot use is a 404, an archived one a 409. Values are validated, never rewritten: \`+1-555-12;34@x\` is
a 422, not a call to \`+15551234\`. A field the body does not define (a typo such as \`tiemout\`) is a
400 \`unknown_field\` naming it. Variables reach the channel in their own namespace,
\`OUTDIAL_VAR_<name>\` (\`CAMPAIGN\` is \`\${OUTDIAL_VAR_CAMPAIGN}\` in the dialplan), so a caller can never
set a dialplan global or a variable Asterisk reads itself.

**Which sidecar.** With several sidecars (\`SIDECARS\`), \`sidecar_id\` names the one (and so the PBX)
that places the call; a name the API is not configured with is a 422. Without it the call goes to the
sidecar with the most room (its calls not yet final against its \`MAX_CONCURRENT_CALLS\`), skipping one
that is down or whose circuit breaker is open; one that refuses the connection is passed over for the
next (the command never arrived there, so nothing can ring twice). \`/readiness\` shows each sidecar's
state and load.

The call is stored as \`pending\` and handed to the sidecar beside the PBX. The answer is 200 with the
original fields (\`success\`, \`call_id\`, \`phone_number\`, \`message\`, \`channel\`, \`status\`, \`created_at\`,
\`error\`) plus \`reason\`:

- \`status: "dialing"\`: the PBX accepted the originate (its events may have taken the call further by
  the time the answer arrives: ringing, answered; read the call or follow its events; one that has
  already ended is answered with its final status); \`"pending"\`: the call waits for a dialling
  slot at the sidecar (pacing). An originate that ARI did not answer in time is \`dialing\` too: it may
  have been carried out, so it is never sent again (that could ring the callee twice); the call's
  events decide, and if ARI has no channel for it, it ends \`failed\` with reason \`lost\`;
- \`success: false, status: "failed"\`: the PBX refused the originate (\`error\` says why);
- **503** with \`Retry-After\`: no sidecar could take the call (unreachable, circuit breaker open, or
  its queue full), or the one \`sidecar_id\` names cannot. The call is recorded as \`failed\` with reason \`pbx_unreachable\`, and its
  Idempotency-Key is released so the same request can be retried. When the sidecar did not answer in
  time, the command may still arrive: the API then also sends a hang-up for that call id, and the
  sidecar refuses an originate that comes after it, or hangs up one that came first (the phone may
  ring for a moment in that case; the call stays \`failed\`).

**Idempotency.** \`Idempotency-Key\` (1–255 visible ASCII characters): the same key with the same body
answers the stored response (\`Idempotent-Replayed: true\`), with another body 422, while the first
request is still running 409. Keys are per user and kept \`IDEMPOTENCY_TTL\` seconds (24 hours).

**Rate limit.** Originates are limited per user (\`RATE_LIMIT_REQUESTS\` per \`RATE_LIMIT_WINDOW\`
seconds, shared by all API instances through the database) with \`X-RateLimit-Limit\`, \`-Remaining\`
and \`-Reset\` headers and 429 + \`Retry-After\` beyond. Only requests that go on to place a call count:
an idempotent replay is answered even when the window is used up, and requests refused for bad input,
a reused or in-flight key do not use it up. A 429 does not keep the Idempotency-Key.`;

export const createCallRoute = createRoute({
  method: 'post',
  path: '/api/v2/calls',
  tags: ['Calls'],
  summary: 'Place a call',
  description: PLACE_CALL,
  ...guarded('calls:write', 'admin', 'operator'),
  request: {
    headers: IdempotencyHeaderSchema,
    body: { required: true, content: { 'application/json': { schema: CreateCallBodySchema } } },
  },
  responses: {
    200: {
      description: 'The call was accepted (or refused by the PBX: see `success`)',
      headers: {
        ...RateLimitHeaders,
        'Idempotent-Replayed': {
          description: 'true when this is a stored response',
          schema: { type: 'string' },
        },
      },
      content: { 'application/json': { schema: OriginateResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503),
  },
});

export const registerCreateCall = (app: App) =>
  app.openapi(createCallRoute, async (c) => {
    const body = c.req.valid('json');
    const key = c.req.valid('header')['idempotency-key'];
    const result = await handleOriginate(
      c,
      {
        phoneNumber: body.phone_number,
        context: body.context,
        extension: body.extension,
        priority: body.priority,
        timeoutMs: body.timeout,
        callerId: body.caller_id,
        variables: body.variables,
        statusCallback: body.status_callback,
        statusCallbackEvents: body.status_callback_events,
        flow: body.flow,
        flowId: body.flow_id,
        flowVersion: body.flow_version,
        sidecarId: body.sidecar_id,
      },
      key,
    );
    if (result.replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(result.body, 200);
  });
