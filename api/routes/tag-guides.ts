/**
 * The descriptions of the tags that group the operations in the OpenAPI document: what each group's
 * operations share, beside them in /docs. The document's top description is in guide.ts. Every
 * statement here must be true of the code (test/unit/readme.test.ts checks what it can).
 */

import { API_KEY_PREFIX } from '../shared/contract/index.ts';

/** The Calls tag: what its operations share. */
export const CALLS_GUIDE = `Place, follow and hang up calls.

### Placing a call

\`POST /api/v2/calls\` with at least \`phone_number\` (digits, an optional leading \`+\`, 7 to 20 characters)
answers as soon as the PBX took the originate, with the call's \`call_id\` and its status: \`dialing\`, or
\`pending\` while the call waits for a dialling slot at the sidecar; the rest of the call is reported after
that answer. Send an \`Idempotency-Key\` so that a retry after a timeout cannot ring the phone twice: the
same key and body answer the stored reply.

\`\`\`sh
curl -s $B/api/v2/calls -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
  -H 'Idempotency-Key: order-7781' \\
  -d '{"phone_number":"+15551234002","caller_id":"Contact Center <5550001111>","variables":{"CAMPAIGN":"spring"},
       "status_callback":"https://example.com/hooks/outdial"}'
\`\`\`

Then follow it, whichever suits the client: read it (\`GET /api/v2/calls/{call_id}\`, its ordered log at
\`…/events\`), listen to the live stream (Live status), or let the API POST each change to
\`status_callback\` (Webhooks). \`POST /api/v2/calls/{call_id}/hangup\` ends it, or cancels it before the
answer. What the callee hears after the answer is the call's \`flow\` (Flows) or the dialplan's
\`context\`, \`extension\` and \`priority\`.

### Statuses and outcomes

\`pending\` → \`dialing\` → \`ringing\` → \`answered\` → \`completed\`; the other final statuses are \`busy\`,
\`no_answer\`, \`failed\` and \`canceled\`. A final status never changes again. Every call also carries
\`reason\`, the Q.850 \`hangup_cause\` and its text, the last ARI \`dial_status\`, and \`dialed_at\`,
\`answered_at\`, \`ended_at\`, \`duration\`.

| what the PBX reports | status | reason |
|---|---|---|
| answered, then hung up | \`completed\` | \`normal\` (\`hangup_requested\` when hung up through the API) |
| Dial BUSY, or cause 17 | \`busy\` | \`busy\` |
| cause 21 | \`busy\` | \`rejected\` |
| ring timeout (no final Dial, cause 19) | \`no_answer\` | \`timeout\` |
| cause 18/19 with Dial NOANSWER | \`no_answer\` | \`no_answer\` |
| Dial CONGESTION or CHANUNAVAIL, causes 27/34/38/41/42 | \`failed\` | \`congestion\` |
| causes 1/3/22/28 | \`failed\` | \`invalid_number\` |
| cause 0 and no dial status, or answered into a missing app/extension | \`failed\` | \`pbx_routing\` |
| hung up through the API before the answer | \`canceled\` | \`hangup_requested\` |
| the channel vanished (PBX restart, lost socket) | \`failed\` | \`lost\` |
| no sidecar could take the call | \`failed\` | \`pbx_unreachable\` |

The times are those of the events themselves: what the PBX did carries the sidecar's time of it
(ARI's event timestamp, or when the sidecar sent the originate that ARI accepted), never the moment
the report reached the API. A call's times are always in order, \`created_at\` ≤ \`dialed_at\` ≤ its
first \`ringing\` event ≤ \`answered_at\` ≤ \`ended_at\`: \`created_at\` is the API's clock, so when the
sidecar's clock is behind it (or a report comes after a later one from the other side), an earlier
time is raised to the call's previous one when it is recorded, and the event log shows the raised
time. Times in order are kept exactly. Keep the clocks in sync (NTP) for true durations.

With the ARI simulator (\`npm start\`), the last digit of the number chooses what the callee does;
\`asterisk/README.md\` lists what each digit does.`;

/** The Live status tag: the event stream. */
export const LIVE_STATUS_GUIDE = `Follow calls as they change: \`GET /api/v2/events\` is a \`text/event-stream\` of the caller's call
events (admins and viewers: every call), optionally only some calls (\`call_id=a,b\`) or statuses
(\`status=answered,completed\`):

\`\`\`
event: ready
data: {"after":"1041","resumed":false}
retry: 2000

id: 1042
event: call
data: {"sequence":3,"id":"1042","call_id":"5b0f…","type":"ringing","status":"ringing","time":"…","reason":null,"hangup_cause":null,"hangup_cause_txt":null,"dial_status":"RINGING","source":"sidecar:default"}

: keep-alive
\`\`\`

Every \`id:\` is the event's global id. Reconnecting with \`Last-Event-ID: <id>\` (or
\`?last_event_id=<id>\`) delivers everything after it, once, in order: the events come from the
database, so this holds across API restarts and across instances. Without it the stream starts after
the \`ready\` frame's \`after\` cursor; a client that loads its view after \`ready\` misses nothing. Comment
lines every \`SSE_HEARTBEAT_MS\` keep proxies from closing the connection. A client that reads too
slowly to keep up (\`SSE_MAX_BUFFERED\` events waiting) is disconnected and resumes with
\`Last-Event-ID\`, so it cannot make the server buffer without end. Browsers' \`EventSource\` cannot send
an \`Authorization\` header; read the stream with \`fetch\` (as the console does).

Limits, and when a stream ends:

- A user has at most \`SSE_MAX_STREAMS_PER_USER\` streams open at once, counted in the database so
  across every instance; one more answers 429 problem+json with \`Retry-After\`. A stream's place is
  given back when it ends (an instance that dies gives its places back within a minute).
- Catching up is bounded: a \`Last-Event-ID\` more than \`SSE_CATCHUP_MAX_EVENTS\` events behind (the
  user's own events; every event for admins and viewers) is not replayed. The stream then starts with the next
  event and its \`ready\` frame says so: \`{"after":"…","resumed":false,"missed":true}\`; re-list what is
  on screen, then follow the stream.
- The stream delivers nothing more, and closes within about a second, once its token is revoked, the
  user logs out everywhere, gets a new password, is deactivated or changes role (an admin's stream
  carries everyone's calls; a demoted admin reconnects to a stream of its own calls). Each delivery is
  checked against the database first. It ends at its token's expiry: reconnect with a new token and
  \`Last-Event-ID\`.

Campaigns' progress comes on the same stream as \`event: campaign\` frames, whose data is the
campaign's state and counters (the names of \`GET /api/v2/campaigns/{id}\`) and when they stood so:

\`\`\`
event: campaign
data: {"campaign_id":"…","state":"running","counters":{"total":200,"pending":120,…},"at":"…"}
\`\`\`

Each is a snapshot: one goes out when the campaign's state or counters changed, at most one per
campaign per \`CAMPAIGN_PROGRESS_STREAM_MS\` (a burst of calls ending makes one frame, with the counters
after it), and the last one shows where the campaign ended (\`completed\` or \`canceled\`). They carry no
\`id:\`, so they never move the \`Last-Event-ID\` a client resumes from; a new or resumed stream starts
with a snapshot of each running or paused campaign. The campaigns shown are those whose calls the caller
sees (its own; every one for admins and viewers). \`campaign_id\` narrows them (repeat it, or separate
ids with commas), and \`kind=call\` or \`kind=campaign\` keeps one kind of frame (a stream narrowed by
\`call_id\` or \`status\` alone carries only call frames, one narrowed by \`campaign_id\` alone only
campaign frames).

\`\`\`sh
curl -N -H "Authorization: Bearer $TOKEN" "$B/api/v2/events?status=completed,failed"
curl -N -H "Authorization: Bearer $TOKEN" "$B/api/v2/events?campaign_id=$CAMPAIGN"
\`\`\``;

/** The Webhooks tag: deliveries, their signatures and which receivers are allowed. */
export const WEBHOOKS_GUIDE = `With \`status_callback\` (an \`https\` URL) on \`POST /api/v2/calls\`, every status change of the call (or
only those in \`status_callback_events\`, e.g. \`["completed","busy","no_answer","failed"]\`) is POSTed
there as JSON:

\`\`\`json
{"type":"call.status","event_id":"1042","occurred_at":"…","call":{…the call…},"event":{…the event…}}
\`\`\`

A call with a flow also reports its steps when \`status_callback_events\` lists flow event types
(\`step_started\`, \`step_finished\`, \`flow_ended\`): each such event is POSTed with \`"type":"call.flow"\`,
the same shape, and the step in \`event.flow\` (for step_finished, the answer it gave). They are never
sent unless listed.

A campaign created (or changed) with \`status_callback\` reports there too, each body a
\`CampaignWebhook\`: \`"type":"campaign.state"\` when it changes state (started, paused, resumed,
completed, canceled; \`previous_state\` says from what), and \`"type":"campaign.progress"\` with its
counters while they move, at most one per campaign per \`CAMPAIGN_PROGRESS_WEBHOOK_SECONDS\` window and
a last one when it completes. \`status_callback_events\` may keep one kind (\`["campaign.state"]\`).

\`\`\`json
{"type":"campaign.progress","campaign_id":"…","state":"running","counters":{"total":200,…},"at":"…"}
\`\`\`

Each is written in the transaction of the change it reports, and sent, signed and retried as a call's
are; a campaign's request names it in \`Outdial-Campaign-Id\` where a call's names its event in
\`Outdial-Event-Id\`.

Each body's schema, its headers and an example are in the \`webhooks\` section of \`/openapi.json\`
(\`call.status\`, \`call.flow\`, \`campaign.state\`, \`campaign.progress\`; shown beside the operations on \`/docs\`).

Deliveries of one call (or of one campaign) go in order. A 2xx answer ends a delivery; anything else (a timeout, a 5xx, a
redirect, which is never followed) is retried with exponential backoff and full jitter
(\`WEBHOOK_RETRY_BASE_MS\`, capped at \`WEBHOOK_RETRY_MAX_MS\`) up to \`WEBHOOK_MAX_ATTEMPTS\` attempts and
\`WEBHOOK_MAX_AGE\` seconds. Every attempt is kept: \`GET /api/v2/calls/{call_id}/webhooks\`. The
delivery is written in the same transaction as the event, so an accepted event always gets its
webhook, even across restarts.

### Signatures

Each request carries \`Outdial-Delivery-Id\`, \`Outdial-Event-Id\`, \`Outdial-Attempt\` and

\`\`\`
Outdial-Signature: t=1795449478,kid=<key id>,v1=<base64url Ed25519 signature>
\`\`\`

The signature covers the bytes \`outdial-webhook-v1.<t>.<raw body>\` and is made with the API's signing
key; verify it with the key of that \`kid\` from \`/.well-known/jwks.json\` (no shared secret to
distribute), and refuse timestamps more than a few minutes old. \`verifyWebhook\` in
\`api/webhooks/signature.ts\` does exactly that with WebCrypto only (Bun, Node 20+, Deno, Workers):

\`\`\`ts
import { verifyWebhook } from './api/webhooks/signature.ts';

const { keys } = await (await fetch('https://api.example.com/.well-known/jwks.json')).json();
Bun.serve({
  async fetch(req) {
    const body = await req.text(); // the raw body, before any JSON parsing
    const result = await verifyWebhook({ header: req.headers.get('Outdial-Signature'), body, keys });
    if (!result.ok) return new Response(result.reason, { status: 401 });
    const { call } = JSON.parse(body);
    console.log(call.call_id, call.status);
    return new Response('ok');
  },
});
\`\`\`

### Which receivers are allowed

Webhook targets are guarded against SSRF: only \`https\`, no credentials in the URL, only the ports in
\`WEBHOOK_ALLOWED_PORTS\` (443 by default), no special-use name (\`localhost\`, \`*.localhost\`, \`*.local\`,
\`*.internal\`, \`*.home.arpa\`, with or without trailing dots), and no address that is loopback,
private, link-local, carrier-grade NAT, unspecified, multicast, broadcast, benchmarking,
documentation or reserved, nor a cloud metadata endpoint (169.254.169.254, 100.100.100.200,
168.63.129.16, 192.0.0.192, fd00:ec2::254). IPv6 forms that carry an IPv4 address (IPv4-mapped
\`::ffff:a.b.c.d\`, SIIT \`::ffff:0:a.b.c.d\`, IPv4-compatible \`::a.b.c.d\`, NAT64 \`64:ff9b::/96\`, 6to4
\`2002::/16\`, Teredo \`2001::/32\`) are judged by the address they carry; the local-use NAT64 prefix
\`64:ff9b:1::/48\` and anything outside global unicast \`2000::/3\` are refused outright (the rules are
two tables in \`api/webhooks/addresses.ts\`). They hold whether the address is written literally, in
any spelling URL parsing accepts (\`2130706433\`, \`0x7f.1\`, \`[::ffff:127.0.0.1]\`: refused with 422 when
the call is placed), or reached through DNS: on Bun the resolved addresses are checked inside the
connection's own lookup, so a name cannot be re-pointed between the check and the connection, and
the delivery then fails without retries. Workers cannot resolve names, so there the URL rules are
checked when the call is placed and before every attempt, and names are resolved by Cloudflare,
whose egress reaches only the public internet. \`WEBHOOK_ALLOW_LOOPBACK=true\` is the explicit
development switch that also allows \`http\` and loopback receivers on any port; \`npm start\` turns it
on, production leaves it off.

One slow receiver delays no other: each attempt is cut off after \`WEBHOOK_TIMEOUT_MS\` (and retried),
at most \`WEBHOOK_ENDPOINT_CONCURRENCY\` attempts go to one endpoint (scheme, host and port as written)
at a time, never more than half of \`WEBHOOK_CONCURRENCY\`, and a slot that frees up is filled at once.
The limits are per API process (per invocation on Workers).`;

/** The Flows tag: what a call does once answered, and where its answers go. */
export const FLOWS_GUIDE = `What a call does once answered. A flow is a list of steps, given inline as a call's \`flow\` in
\`POST /api/v2/calls\`, or saved here and named by \`flow_id\` (and \`flow_version\`, the latest by
default). A saved flow is versioned: a version never changes, a new one is added, and archiving stops
new calls using it. Operators own their flows; admins and viewers read all, admins change all,
viewers none.

\`\`\`json
{ "phone_number": "+15557771", "flow": [
  { "verb": "play", "media": ["sound:hello-world"] },
  { "id": "ask", "verb": "gather", "name": "choice", "prompt": ["sound:please-press-1"],
    "max_digits": 1, "finish_on_key": "#", "timeout_ms": 5000, "attempts": 2 },
  { "verb": "branch", "on": "choice", "cases": { "1": "msg" }, "default": "bye" },
  { "id": "msg", "verb": "record", "name": "message", "max_seconds": 30, "finish_on_key": "#", "beep": true },
  { "id": "bye", "verb": "hangup" } ] }
\`\`\`

### The steps

| verb | what it does |
|---|---|
| \`play\` | plays ARI media in order: \`sound:\`, \`digits:\`, \`number:\`, \`tone:\` |
| \`gather\` | plays its \`prompt\` and collects keys into \`answers[name]\`: \`max_digits\`, \`finish_on_key\`, \`timeout_ms\` (to the first key), \`inter_digit_timeout_ms\`, \`attempts\`, an anchored \`pattern\`. A key pressed during the prompt stops it and counts (barge-in) |
| \`record\` | records the callee into \`answers[name]\` (\`{recording, duration_ms}\`): \`max_seconds\`, \`max_silence_seconds\`, \`finish_on_key\`, \`beep\` |
| \`branch\` | jumps to \`cases[answer]\`, else to \`default\`, else goes on; \`on\` names an answer or \`answered_by\` |
| \`goto\`, \`set\` | jump to a step id; set \`answers[name]\` to a value |
| \`continue\` | hands the call to the dialplan (a context of \`FLOW_CONTINUE_CONTEXTS\`) and ends the flow |
| \`hangup\` | hangs up with a Q.850 \`cause\` (16 by default) |
| \`amd\` | answering-machine detection with Asterisk's \`AMD()\` (its parameters, in ms, tunable); \`answered_by\` becomes \`human\`, \`machine\` or \`unknown\` |
| \`request\` | the API posts the answers so far to your \`url\` (signed like webhooks, and only to the hosts and ports webhooks may reach) and runs the steps you answer, \`{"steps": [...]}\`, in place of the rest of the flow; on a failure or \`timeout_ms\` it goes to \`on_error\`, or the flow fails |
| \`optout\` | puts the callee's number on the do-not-call list (source \`flow\`, in E.164) and goes on: no campaign calls it again |

A flow that runs out of steps hangs up. Steps are checked when the call or the flow is submitted:
unknown verbs or fields, jumps to missing ids, unreachable steps, loops that can run without waiting
for the callee, media outside the schemes above and contexts outside the allow-list are refused (422,
or 400 for an unknown field) with a JSON Pointer to the step in \`errors[].pointer\`. A flow that runs
more than 1,000 steps or an hour ends \`limit\`.

### Where the answers go

- The call: \`answers\`, \`answered_by\`, and \`flow\` with its \`outcome\`: \`finished\`, \`continued\`,
  \`callee_hangup\` (at \`ended_at_step\`), \`failed\` (with \`detail\`), \`interrupted\` (the sidecar
  restarted mid-flow: the call is hung up, reason \`flow_interrupted\`) or \`limit\`.
- The event log, the live stream and webhooks: each step's \`step_started\` and \`step_finished\` (with its
  answer), then one \`flow_ended\`; none moves the call's status. Webhooks (\`call.flow\`) are sent for the
  flow event types listed in \`status_callback_events\`.
- Recordings: \`GET /api/v2/calls/{call_id}/recordings\` lists them and \`…/recordings/{name}\` streams
  the audio (\`audio/wav\`) from the PBX through its sidecar, for whoever may read the call; they are
  deleted from the PBX with the call's retention.

The simulator's callees answer by number: \`+1555777<digits>\` presses the digits then \`#\` 2 s after
answering, \`+1555776…\` stays silent, \`+1555778<n>\` speaks n seconds (n = 1 a person, n ≥ 4 a machine to
\`AMD()\`), \`+1555775…\` hangs up after 3 s.`;

/** The Campaigns tag: what its operations share. */
export const CAMPAIGNS_GUIDE = `Call a list of contacts inside their hours, retry by outcome, at a pace. A campaign is created
\`draft\`, then started, paused, resumed and canceled by its actions; it completes by itself when no contact is
left to call. Operators own their campaigns; admins and viewers read all, admins change all, viewers none.

\`\`\`json
{ "name": "Appointment reminders, week 48", "flow_id": "0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10",
  "timezone": "America/New_York",
  "windows": [ { "days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "19:00" } ],
  "retry": { "busy": { "after_seconds": 600, "max_attempts": 3 },
             "no_answer": { "after_seconds": 3600, "max_attempts": 3 } },
  "max_attempts_per_day": 2, "cps": 5, "max_concurrent": 50 }
\`\`\`

### States and actions

| action | from | to |
|---|---|---|
| \`start\` | \`draft\` | \`running\` |
| \`pause\` | \`running\` | \`paused\` |
| \`resume\` | \`paused\` | \`running\` |
| \`cancel\` | \`draft\`, \`running\`, \`paused\` | \`canceled\` |

An action from another state is a 409 \`campaign_state\` naming the state the campaign is in. Actions racing on
one campaign take effect one after the other, each on the state the one before left: of twenty concurrent
\`start\`s one succeeds. Canceling ends the pending contacts (\`canceled\`) in the same transaction as the
state; calls already dialling finish. Settings change (\`PATCH\`) only while \`draft\` or \`paused\`.

### Settings

- What answered calls do: a saved flow (\`flow_id\`, \`flow_version\` or the latest version when the campaign
  is created or changed) that the owner may use and that is not archived, or the dialplan's \`context\` (one of
  ALLOWED_CONTEXTS), \`extension\`, \`priority\`. Not both; neither is the dialplan's defaults.
- When: \`timezone\` (IANA, for contacts without their own), \`windows\` (1 to 14, days and a local start and
  end, end after start; \`24:00\` ends the day, so all day is \`00:00\` to \`24:00\` and a window past midnight is
  two windows, one to \`24:00\` and one from \`00:00\`), \`starts_at\` and \`ends_at\` (optional).
- How often: \`retry\` (per outcome busy, no_answer, failed, machine, lost: \`after_seconds\` and the contact's
  \`max_attempts\`; an outcome not named is not retried), \`max_attempts_per_day\` (1 to 10, per contact's day).
- How fast: \`cps\` (1 to CAMPAIGN_MAX_CPS) and \`max_concurrent\` (1 to CAMPAIGN_MAX_CONCURRENT),
  \`ring_timeout_ms\`; \`caller_id\` and \`variables\` as for a call.

Each campaign answers with its \`counters\`, kept in the same transaction as the work they count. Finished
campaigns (completed or canceled) are deleted with their contacts, attempts and counters
CAMPAIGN_RETENTION_DAYS after they finished; their calls follow CALL_RETENTION_DAYS.`;

/** The Do not call tag: what its operations share. */
export const DNC_GUIDE = `Numbers no campaign may call. A due contact whose number is listed is never dialled: it ends \`dnc\`.
Numbers are stored in E.164; one written without \`+<country code>\` is read in DEFAULT_PHONE_REGION, so
\`(555) 123-4000\` and \`+15551234000\` are the same entry. Admins and operators add numbers (one, or up to
10,000 at once, all or none) and everyone reads the list; only admins take a number off it, since someone
asked never to be called again, and each removal is in the audit log.`;

export const KEYS_GUIDE =
  'API keys let software act for a user without a password. A key is sent as `Authorization: Bearer <key>`, ' +
  `exactly like an access token, and reads \`${API_KEY_PREFIX}<key id>_<secret>\`: the prefix lets secret ` +
  'scanners find a leaked key, the 16 hex digits of the key id name it in lists and in the audit log. The whole ' +
  'key is shown once, in the answer that creates it; only a hash of its secret is kept.\n\n' +
  'A key carries scopes; what it may do is its scopes that its user’s role grants now, so a key of a user who ' +
  'is demoted loses at once what the role lost, and a key of a deactivated user stops working. Each route ' +
  'names the scope it needs; a key without it gets 403 naming the scope. A revoked or expired key answers 401 ' +
  'from the next request on, and the live event streams opened with it end. A key may list, create and ' +
  'revoke its own user’s keys, never giving one a scope it lacks itself; `POST /api/v2/token/revoke` takes ' +
  'a session token only.\n\n' +
  '**Rolling a key**: create the new key, switch the integration to it, check that the new key’s ' +
  '`last_used_at` moves and the old one’s stops, then revoke the old key.';
