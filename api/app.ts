import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { compress } from 'hono/compress';
import { cors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';
import { ApiError, problemResponse, toApiError } from './errors.ts';
import { DATABASE_STREAM_HEADER } from './lib/database-stream.ts';
import { requestContext } from './middleware/request-context.ts';
import { registerMe } from './routes/auth/me.ts';
import { registerRevoke } from './routes/auth/revoke.ts';
import { registerToken } from './routes/auth/token.ts';
import { registerCreateCall } from './routes/calls/create.ts';
import { registerCallEvents } from './routes/calls/events.ts';
import { registerGetCall } from './routes/calls/get.ts';
import { registerHangupCall } from './routes/calls/hangup.ts';
import { registerListCalls } from './routes/calls/list.ts';
import { registerCallRecordings } from './routes/calls/recordings.ts';
import { registerCallWebhooks } from './routes/calls/webhooks.ts';
import { registerCampaignActions } from './routes/campaigns/action.ts';
import { isContactsImport, registerImportContacts } from './routes/campaigns/contacts-import.ts';
import { registerListContacts } from './routes/campaigns/contacts-list.ts';
import { registerCreateCampaign } from './routes/campaigns/create.ts';
import { registerGetCampaign } from './routes/campaigns/get.ts';
import { registerListCampaigns } from './routes/campaigns/list.ts';
import { registerCampaignResults } from './routes/campaigns/results.ts';
import { registerCampaignTimeline } from './routes/campaigns/timeline.ts';
import { registerUpdateCampaign } from './routes/campaigns/update.ts';
import { registerAddDnc } from './routes/dnc/add.ts';
import { registerBulkDnc } from './routes/dnc/bulk.ts';
import { registerCheckDnc } from './routes/dnc/check.ts';
import { registerListDnc } from './routes/dnc/list.ts';
import { registerRemoveDnc } from './routes/dnc/remove.ts';
import { registerAddFlowVersion } from './routes/flows/add-version.ts';
import { registerArchiveFlow } from './routes/flows/archive.ts';
import { registerCreateFlow } from './routes/flows/create.ts';
import { registerGetFlow } from './routes/flows/get.ts';
import { registerGetFlowVersion } from './routes/flows/get-version.ts';
import { registerListFlows } from './routes/flows/list.ts';
import { registerCreateKey } from './routes/keys/create.ts';
import { registerListKeys } from './routes/keys/list.ts';
import { registerRevokeKey } from './routes/keys/revoke.ts';
import { registerInteraction } from './routes/legacy/interaction.ts';
import { registerStatus } from './routes/legacy/status.ts';
import { registerLiveStream } from './routes/live/stream.ts';
import { routeIndex } from './routes/methods.ts';
import { type App, createOpenApiApp, openApiDocument } from './routes/openapi.ts';
import { registerSidecarEvents } from './routes/sidecar/events.ts';
import { registerFlowRequests } from './routes/sidecar/flow-requests.ts';
import { registerSidecarLease } from './routes/sidecar/lease.ts';
import { registerConsole } from './routes/system/console.ts';
import { type DocsScript, registerDocs } from './routes/system/docs.ts';
import { registerSystem } from './routes/system/index.ts';
import { registerCreateUser } from './routes/users/create.ts';
import { registerListUsers } from './routes/users/list.ts';
import { registerUpdateUser } from './routes/users/update.ts';
import { registerWebhookPayloads } from './routes/webhook-payloads.ts';
import type { AppEnv, Services } from './services.ts';
import { API_EVENTS_PATH } from './shared/contract/index.ts';

/** Request bodies above this answer 413, whether announced by Content-Length or streamed chunked. */
const BODY_LIMIT_BYTES = 64 * 1024;
/** Routes whose bodies may be larger than a caller's usual request: sidecar event batches, bulk lists. */
const LARGE_BODY_LIMITS: Record<string, number> = {
  [API_EVENTS_PATH]: 1024 * 1024,
  '/api/v2/dnc/bulk': 2 * 1024 * 1024,
};

export interface AppOptions {
  /** The services for a request: the same object for every request on Bun, per isolate on Workers. */
  services: (c: Context<AppEnv>) => Services;
  /** CORS origins; taken from the services' config when omitted. */
  allowedOrigins?: string[];
  /** Compress large answers (default). Off on Workers, whose runtime compresses them itself. */
  compress?: boolean;
  /** Scalar's browser bundle for /docs, as the runtime holds it; without it /docs has no script. */
  docsScript?: DocsScript;
}

/** The 413 for a body past `bytes`, announced or streamed. */
const tooLarge = (bytes: number) => () => {
  throw new ApiError(
    'payload_too_large',
    `The request body is larger than ${bytes / 1024} KiB, the most this route takes`,
  );
};

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

/**
 * Gives a JSON answer its Content-Length, which c.json() leaves out. compress() applies its
 * threshold only to answers that state their length, so without it every JSON answer, however small
 * (an originate's, a sidecar batch's acknowledgement), was gzipped through a compression stream and
 * sent chunked, costing both ends CPU on the originate and event paths. A JSON answer is text the app
 * made whole, so reading it here waits for nothing; anything else (streams, files, a JSON export streamed
 * from the database) is left as it is.
 */
const jsonLength: MiddlewareHandler = async function jsonLength(c, next) {
  await next();
  const res = c.res;
  if (
    !res.body ||
    res.headers.has('content-length') ||
    // A body read from the database as it is sent (a results export) stays a stream.
    res.headers.has(DATABASE_STREAM_HEADER) ||
    !JSON_TYPE.test(res.headers.get('content-type') ?? '')
  )
    return;
  const body = await res.arrayBuffer();
  const sized = new Response(body, res);
  sized.headers.set('content-length', String(body.byteLength));
  c.res = sized;
};

/** Builds the whole API. It never touches runtime APIs; the entry files do. */
export function createApp(options: AppOptions): App {
  const app = createOpenApiApp();

  app.use('*', requestContext({ services: options.services }));
  app.use(
    '*',
    secureHeaders({
      crossOriginResourcePolicy: 'same-origin',
      referrerPolicy: 'no-referrer',
      strictTransportSecurity: 'max-age=31536000; includeSubDomains',
    }),
  );
  app.use('*', async function corsFromConfig(c, next) {
    const origins = options.allowedOrigins ?? c.get('services').config.ALLOWED_ORIGINS;
    if (origins.length === 0) return next();
    return cors({
      origin: origins.includes('*') ? '*' : origins,
      allowHeaders: [
        'Authorization',
        'Content-Type',
        'Idempotency-Key',
        'X-Request-ID',
        'Last-Event-ID',
        'traceparent',
      ],
      exposeHeaders: [
        'X-Request-ID',
        'Retry-After',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
        'Idempotent-Replayed',
      ],
      maxAge: 600,
    })(c, next);
  });
  app.use('*', async function limitBody(c, next) {
    // A contacts import streams its body and keeps caps of its own (CONTACTS_IMPORT_MAX_BYTES).
    if (isContactsImport(c)) return next();
    const maxSize = LARGE_BODY_LIMITS[c.req.path] ?? BODY_LIMIT_BYTES;
    return bodyLimit({ maxSize, onError: tooLarge(maxSize) })(c, next);
  });
  if (options.compress !== false) {
    app.use('*', compress({ threshold: 2048 }));
    app.use('*', jsonLength);
  }

  registerSystem(app);
  registerToken(app);
  registerRevoke(app);
  registerMe(app);
  registerCreateKey(app);
  registerListKeys(app);
  registerRevokeKey(app);
  registerCreateCall(app);
  registerListCalls(app);
  registerGetCall(app);
  registerHangupCall(app);
  registerCallEvents(app);
  registerCallWebhooks(app);
  registerCallRecordings(app);
  registerCreateFlow(app);
  registerListFlows(app);
  registerGetFlow(app);
  registerGetFlowVersion(app);
  registerAddFlowVersion(app);
  registerArchiveFlow(app);
  registerImportContacts(app);
  registerListContacts(app);
  registerCampaignResults(app);
  registerCampaignTimeline(app);
  registerCreateCampaign(app);
  registerListCampaigns(app);
  registerGetCampaign(app);
  registerUpdateCampaign(app);
  registerCampaignActions(app);
  registerAddDnc(app);
  registerListDnc(app);
  registerBulkDnc(app);
  registerCheckDnc(app);
  registerRemoveDnc(app);
  registerLiveStream(app);
  registerInteraction(app);
  registerStatus(app);
  registerCreateUser(app);
  registerListUsers(app);
  registerUpdateUser(app);
  registerSidecarEvents(app);
  registerFlowRequests(app);
  registerSidecarLease(app);
  registerWebhookPayloads(app);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description:
      'An access token from `POST /api/v2/token` (an EdDSA-signed JWT), or an API key (`odk_live_…`, see ' +
      'the API keys routes). The scopes listed for an operation are those an API key needs; a session token ' +
      'has every right of its user’s role.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'sidecarSignature', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'A short-lived, single-use EdDSA JWT signed by the sidecar’s key over the method, path and body hash.',
  });
  // Built on the first request: the routes are all registered by then, and they do not change.
  let document: ReturnType<typeof openApiDocument> | null = null;
  app.get('/openapi.json', function openApi(c) {
    document ??= openApiDocument(app, c.get('services').config.APP_NAME);
    return c.json(document);
  });
  registerDocs(app, options.docsScript);
  registerConsole(app);

  const routes = routeIndex(app);
  app.notFound(function noRoute(c) {
    const methods = routes.methodsOf(c.req.path);
    const method = c.req.method.toUpperCase();
    // A route that exists for this method but answered nothing is a plain 404.
    if (!methods || methods.includes(method)) {
      if (methods && method === 'OPTIONS') return c.body(null, 204, { Allow: methods.join(', ') });
      return problemResponse(c, new ApiError('not_found', `No route for ${c.req.method} ${c.req.path}`));
    }
    const allow = methods.join(', ');
    return problemResponse(
      c,
      new ApiError(
        'method_not_allowed',
        `${c.req.method} is not a method of ${c.req.path}; it allows ${allow}`,
        { headers: { Allow: allow } },
      ),
    );
  });
  app.onError((error, c) => {
    const { apiError, unexpected } = toApiError(error, {
      accepts: routes.mediaTypesOf(c.req.method, c.req.routePath),
      contentType: c.req.header('content-type'),
      empty: c.req.header('content-length') === '0',
    });
    if (unexpected) {
      const logger = c.get('logger') ?? c.get('services')?.logger;
      logger?.error('unhandled error', { error, method: c.req.method, path: c.req.path });
    }
    return problemResponse(c, apiError);
  });
  return app;
}
