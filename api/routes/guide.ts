/**
 * The API guide, in CommonMark: the OpenAPI document's top description (the tags' descriptions are in
 * tag-guides.ts), so that /docs (and any OpenAPI viewer) shows it next to the operations it explains. Every statement here must be true of the code; test/unit/readme.test.ts
 * checks the route table against the document's operations and the variables named against the
 * configuration schemas.
 */

import { API_KEY_PREFIX } from '../shared/contract/index.ts';

export const GUIDE = `Outdial places outbound IVR calls through an Asterisk PBX and follows each call from the moment it
is accepted to its final outcome. It is compatible with the \`/api/v2\` contract of the service it
replaces (its routes are marked "original route"). This reference is also the guide: each section starts with what
its operations share (placing calls and their outcomes, live status, webhooks), and each operation
says what it does. On \`/docs\`, any operation's "Test Request" sends it from the page: get a token there
with \`POST /api/v2/token\` (or use an API key) and enter it as the Bearer Token under Authentication.

### Logging in

\`POST /api/v2/token\` is an OAuth2 password grant (form fields \`username\` and \`password\`) and answers
\`{access_token, token_type, expires_in, refresh_token, refresh_expires_in}\`. Send the access token as
\`Authorization: Bearer <token>\`. Access tokens are Ed25519-signed JWTs (RFC 9068); their public keys are
at \`/.well-known/jwks.json\`.

Before the access token expires, the same route with \`grant_type=refresh_token\` and \`refresh_token\`
answers a new pair. Each refresh token is good for one use (RFC 9700 rotation): keep the new one and drop
the old. A refresh token presented twice ends its session (every refresh and access token since the login)
and answers 401, as if stolen, so refresh once at a time. A session lasts \`refresh_expires_in\` seconds
from the login however often it is refreshed; revoking its token, "log out everywhere", a password reset,
a role change or a deactivation end it sooner. Software that
acts for a user sends an API key the same way (\`Authorization: Bearer ${API_KEY_PREFIX}…\`, see API keys).

### Who may call what

| method | path | who | what |
|---|---|---|---|
| POST | \`/api/v2/token\` | anyone | OAuth2 password grant (form \`username\`, \`password\`) or refresh_token grant (\`grant_type=refresh_token\`, \`refresh_token\`) → \`{access_token, token_type, expires_in, refresh_token, refresh_expires_in}\` |
| POST | \`/api/v2/token/revoke\` | any user | revoke this token and end its session, another of yours (\`token\`: access or refresh token), or all (\`all: true\`) |
| GET | \`/api/v2/me\` | any user | the calling user |
| GET, POST | \`/api/v2/keys\` | any user | list own API keys (\`user_id\`: another user's, users:admin); create a key (shown once) |
| GET, DELETE | \`/api/v2/keys/{key_id}\` | owner, admin | an API key (never the key itself); revoke it |
| POST | \`/api/v2/calls\` | admin, operator | place a call (JSON body) |
| POST | \`/api/v2/interaction/{number}\` | admin, operator | place a call (original route; optional JSON body) |
| GET | \`/api/v2/calls\` | any user | list own calls (admins, viewers: all): \`status\`, \`phone_number\`, \`created_after\`, \`created_before\`, \`limit\` ≤ 100, \`cursor\` |
| GET | \`/api/v2/calls/{call_id}\` | owner, admin, viewer | call details |
| GET | \`/api/v2/status/{call_id}\`, \`/api/v2/interaction/{call_id}/status\` | owner, admin, viewer | the same (original routes) |
| POST | \`/api/v2/calls/{call_id}/hangup\` | owner (operator), admin | hang up; before the answer this cancels the call |
| GET | \`/api/v2/calls/{call_id}/events\` | owner, admin, viewer | the call's ordered event log |
| GET | \`/api/v2/calls/{call_id}/webhooks\` | owner, admin, viewer | the call's webhook deliveries and every attempt |
| GET | \`/api/v2/calls/{call_id}/recordings\` | owner, admin, viewer | what the call's flow recorded, with download addresses |
| GET | \`/api/v2/calls/{call_id}/recordings/{name}\` | owner, admin, viewer | a recording's audio (\`audio/wav\`), streamed from the PBX |
| GET, POST | \`/api/v2/flows\` | any user; admin, operator | list own saved flows (admins, viewers: all): \`include_archived\`, \`limit\` ≤ 100, \`cursor\`; save a flow (version 1) |
| GET | \`/api/v2/flows/{flow_id}\` | owner, admin, viewer | the flow, its latest steps and its versions |
| POST | \`/api/v2/flows/{flow_id}/versions\` | owner (operator), admin | save the next version |
| GET | \`/api/v2/flows/{flow_id}/versions/{version}\` | owner, admin, viewer | one version's steps |
| POST | \`/api/v2/flows/{flow_id}/archive\` | owner (operator), admin | archive: no new calls or versions |
| GET, POST | \`/api/v2/campaigns\` | any user; admin, operator | list own campaigns (admins, viewers: all) with their counters: \`state\`, \`limit\` ≤ 100, \`cursor\`; create a campaign (draft) |
| GET, PATCH | \`/api/v2/campaigns/{campaign_id}\` | owner, admin, viewer; owner (operator), admin | the campaign and its counters; change it while draft or paused |
| POST | \`/api/v2/campaigns/{campaign_id}/start\`, \`/api/v2/campaigns/{campaign_id}/pause\`, \`/api/v2/campaigns/{campaign_id}/resume\`, \`/api/v2/campaigns/{campaign_id}/cancel\` | owner (operator), admin | start, pause, resume, cancel |
| GET, POST | \`/api/v2/dnc\` | any user; admin, operator | the do-not-call list (\`limit\` ≤ 100, \`cursor\`); add a number |
| POST | \`/api/v2/dnc/bulk\` | admin, operator | add up to 10,000 numbers, all or none |
| GET | \`/api/v2/dnc/numbers/{phone_number}\` | any user | whether a number is listed (404 when not) |
| DELETE | \`/api/v2/dnc/numbers/{phone_number}\` | admin | take a number off the list |
| GET, POST | \`/api/v2/campaigns/{campaign_id}/contacts\` | owner, admin, viewer; owner (operator), admin | list the campaign's contacts: \`state\`, \`final_outcome\`, \`phone_number\` (prefix), \`limit\` ≤ 100, \`cursor\`; import contacts (JSON array or CSV, streamed, atomic) |
| GET | \`/api/v2/campaigns/{campaign_id}/results\` | owner, admin, viewer | the results, one row per contact, as CSV or a JSON array (\`Accept\`), streamed |
| GET | \`/api/v2/campaigns/{campaign_id}/timeline\` | owner, admin, viewer | attempts ended per minute by outcome over the last \`minutes\` (1 to 1440, default 60) |
| GET | \`/api/v2/events\` | any user | server-sent events of own calls (admins, viewers: all): \`call_id\`, \`status\`, \`Last-Event-ID\` |
| GET, POST | \`/api/v2/users\` | admin | list, create users |
| GET, PATCH | \`/api/v2/users/{user_id}\` | admin | read; change \`role\` or \`is_active\` |
| POST | \`/api/v2/users/{user_id}/password\` | admin | set or generate a password; revokes the user's tokens |
| GET | \`/\`, \`/health\`, \`/readiness\`, \`/metrics\`, \`/docs\`, \`/openapi.json\`, \`/.well-known/jwks.json\` | anyone | info, liveness, readiness (database, sidecar, PBX), Prometheus, this reference, public keys |
| GET | \`/console\` | anyone (logs in) | the operator console |
| POST | \`/api/v2/sidecar/events\` | sidecars | signed call-event batches (internal) |
| POST | \`/api/v2/sidecar/flow-requests\` | sidecars | run a flow's request step (signed, internal) |
| POST | \`/api/v2/sidecar/lease\` | sidecars | lease due campaign attempts as originate commands (signed, internal) |

Roles: \`admin\` (everything), \`operator\` (place, hang up and read own calls), \`viewer\` (read every
call, change nothing). Another user's call answers 404, never 403, so call ids do not reveal
existence.

### Errors

Every error is an RFC 9457 \`application/problem+json\` document with \`type\`, \`title\`, \`status\`,
\`detail\`, \`code\` and \`request_id\` (and \`errors\` for validation); \`detail\` keeps clients that read
FastAPI's \`{"detail": …}\` working. \`detail\` and each of \`errors\` say in plain words what is wrong and
what is expected; each field error names its field by \`path\` (\`body.variables.FOO\`) and by a JSON
Pointer into the body (\`pointer\`: \`/variables/FOO\`) or the parameter's name (\`parameter\`:
\`created_after\`). A method a path does not have answers 405 with \`Allow\` (and \`OPTIONS\` answers 204
with it); a path no route has answers 404. A request body over 64 KiB answers 413 (a sidecar's
event batch may take 1 MiB, a bulk do-not-call list 2 MiB). Any route answers
503 \`database_unavailable\` with \`Retry-After\` while PostgreSQL cannot be reached.

### Security

- Access tokens are RFC 9068 JWTs signed with Ed25519 (\`EdDSA\`, \`typ: at+jwt\`); verification pins
  the algorithm and requires \`kid\`, \`iss\`, \`aud\`, \`exp\`, \`jti\`; no HS256 path. Each request reads the
  user, so a revoked token, a deactivated user, a reset password or a changed role takes effect on
  the next request, and on open event streams before their next event.
- Refresh tokens (RFC 9700): a login also answers a refresh token (\`odrt_\` and 256 random bits, kept
  only as its SHA-256) that \`grant_type=refresh_token\` rotates: each is good for one use, within a
  session that ends \`REFRESH_TOKEN_TTL\` after the login. One presented twice (a stolen copy, or two
  refreshes at once) revokes the whole session, its access tokens included, answers 401 and is written
  to the audit log. Logging out ends the session; log out everywhere, a password reset, a role change
  and a deactivation end all of the user's. The console keeps its tokens in the tab's \`sessionStorage\`
  and refreshes before the access token expires.
- API keys (\`${API_KEY_PREFIX}<key id>_<secret>\`, for software acting for a user or for a service user
  that cannot log in) are sent as \`Authorization: Bearer\` beside tokens and kept only as a SHA-256 of
  their 256-bit secret. A key's scopes (\`calls:read\`, \`calls:write\`, \`flows:read\`, \`flows:write\`,
  \`campaigns:read\`, \`campaigns:write\`, \`users:admin\`) count only as far as its user's role grants them
  now; nobody mints more than they hold. Revoking or expiring a key, or deactivating its user, takes
  effect on the next request and ends its event streams; a key counts in its user's rate limit window, and
  the refusal and the audit log name the key.
  Rolling a key is in the API keys section.
- Passwords: bcrypt at cost ≥ 12 (on Bun in worker threads), bounded and shared fairly
  (\`PASSWORD_HASH_CONCURRENCY\`, \`PASSWORD_HASH_QUEUE\`); unknown users cost as much as wrong passwords. Each
  check is reserved in the database first, so at most \`MAX_FAILED_LOGIN_ATTEMPTS\` are checked per
  username per \`LOGIN_FAILURE_WINDOW\` however many logins arrive at once; that many failures lock the
  username for \`LOGIN_LOCKOUT_DURATION\`, the right password included. A client address is slowed past
  \`MAX_FAILED_LOGINS_PER_ADDRESS\`, never locked out. The counts hold across instances.
- Usernames have one canonical form (NFKC, invisible characters dropped, case folded;
  \`db/username.ts\`): logins and locks use it, and a new name that differs from a taken one only so
  is refused (409).
- The client address is the peer, or behind your reverse proxies (\`TRUST_PROXY\`, \`TRUST_PROXY_HOPS\`
  or \`TRUSTED_PROXIES\`) the right-most \`X-Forwarded-For\` entry that is not one of yours.
- Roles \`admin\` (everything), \`operator\` (places, hangs up and reads its own calls), \`viewer\` (reads
  every call, changes nothing); at least one active admin always remains (409 \`last_admin\`); a call
  you may not read answers 404, never 403. Campaigns are owned the same way. Numbers on the
  do-not-call list are added by admins and operators and taken off by admins only (someone asked
  never to be called again). An audit log records logins, failures, revocations, user changes, call
  creation and hang-up, campaigns' creation, changes and actions, and do-not-call additions and
  removals (with the entry removed).
- Finished campaigns are deleted by housekeeping \`CAMPAIGN_RETENTION_DAYS\` after they completed or
  were canceled, with their contacts, attempts and counters.
- Request bodies over 64 KiB answer 413 (a bulk do-not-call list may take 2 MiB), announced or chunked; security headers on every answer;
  CORS only for \`ALLOWED_ORIGINS\`. Webhook receivers are checked against SSRF and every delivery
  is signed (the Webhooks section).
- Commands to the sidecar and event batches from it are signed JWTs bound to the method, path and a
  SHA-256 of the body, valid for seconds and single use; the API knows each sidecar's public key.

### The typed client

\`api/client/\` is a TypeScript client generated from this document: \`openapi.json\` (the document
\`/openapi.json\` serves, committed), \`schema.gen.ts\` (its types, generated by openapi-typescript) and
\`index.ts\`: \`createOutdialClient({ baseUrl, token? })\` (openapi-fetch over those types, so every
path, parameter, body and documented answer is checked by the compiler), \`login()\`, \`requestToken()\`,
\`refresh()\` (the next pair from a refresh token: keep its new \`refresh_token\`, the one sent is spent)
and \`unwrap()\` (the data, or an \`OutdialError\` carrying the problem document).

\`\`\`ts
import { createOutdialClient, login, unwrap } from './api/client/index.ts';

const { access_token } = await login(createOutdialClient({ baseUrl: B }), 'alice', password);
const api = createOutdialClient({ baseUrl: B, token: access_token });
const placed = unwrap(await api.POST('/api/v2/calls', { body: { phone_number: '+15551234000' } }));
const { data: call } = await api.GET('/api/v2/calls/{call_id}', { params: { path: { call_id: placed.call_id } } });
\`\`\`

\`npm run client:generate\` rebuilds both files from the routes (no server is started); run it after
changing a route and commit the result: a unit test fails while they are stale. \`api/client/example.ts\`
logs in, places a call, follows it on the live stream to its final status and prints its event log:

\`\`\`sh
OUTDIAL_URL=http://127.0.0.1:8000 OUTDIAL_USERNAME=admin OUTDIAL_PASSWORD=… PHONE_NUMBER=+15551234000 \\
  bun api/client/example.ts     # exit code 0 when the call completed, 1 otherwise
\`\`\`

Elsewhere, copy \`schema.gen.ts\` and \`index.ts\` and depend on \`openapi-fetch\`, or generate types from
a running server's \`/openapi.json\` with openapi-typescript.

### The console

\`/console\` is the operator console: log in, list and filter calls, place a call (with a flow, if
you like), watch its status change live, follow its flow step by step, read its answers and play its
recordings, hang up, read its event log and webhook attempts; create campaigns, upload their
contacts as CSV (with the report of rejected rows), start, pause, resume and cancel them, and follow
their counters, progress and outcomes per minute live, their contacts by state and outcome, and export
their results; admins add users, change roles,
deactivate and reset passwords (a demotion, a deactivation and a reset, which signs the user out
everywhere, are confirmed first). Viewers watch every call and campaign and change none. It is served by the API
itself (server-rendered, one small script, no CDN, a strict Content-Security-Policy), works by
keyboard, is labelled for screen readers and fits a phone's screen. It uses the same public API as
any client, with its tokens in \`sessionStorage\`: it refreshes the access token before it expires, so a
person stays logged in for the session's life.`;
