import { createRoute } from '@hono/zod-openapi';
import { createCampaign } from '../../../db/queries/campaigns.ts';
import { writableOwner } from '../../auth/owner.ts';
import { CampaignSchema, CampaignWebhookSchema } from '../../campaigns/bodies.ts';
import { presentCampaign } from '../../campaigns/present.ts';
import {
  checkCampaignBounds,
  checkCampaignCallback,
  resolveCampaignTarget,
} from '../../campaigns/validate.ts';
import { CAMPAIGN_COUNTERS } from '../../shared/contract/index.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { auditCampaign, CreateCampaignBodySchema } from './schema.ts';

export const createCampaignRoute = createRoute({
  method: 'post',
  path: '/api/v2/campaigns',
  tags: ['Campaigns'],
  summary: 'Create a campaign',
  description:
    'Creates a campaign in state `draft`, owned by the caller, with every counter at 0. Answered calls run a ' +
    'saved flow (`flow_id`, and `flow_version` or its latest version, which the campaign then keeps) that ' +
    'the caller may use and that is not archived (404 if it cannot be seen, 409 if archived), or go to the ' +
    'dialplan (`context` of ALLOWED_CONTEXTS, `extension`, `priority`; the defaults of a call), not both. ' +
    '`timezone` must be an IANA zone, each window must end after it starts, `cps` and `max_concurrent` ' +
    'stay within CAMPAIGN_MAX_CPS and CAMPAIGN_MAX_CONCURRENT, `ends_at` comes after `starts_at`, ' +
    '`status_callback` is held to what a call’s is (its webhooks: CampaignWebhook, the Webhooks guide). A field ' +
    'the body does not define (in a window or the retry policy too, such as an outcome it does not know) ' +
    'is a 400 `unknown_field`.',
  ...guarded('campaigns:write', 'admin', 'operator'),
  request: {
    body: { required: true, content: { 'application/json': { schema: CreateCampaignBodySchema } } },
  },
  responses: {
    201: { description: 'The new campaign', content: { 'application/json': { schema: CampaignSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503),
  },
});

export const registerCreateCampaign = (app: App) => {
  // What a campaign's status_callback receives: documented here, where the URL is given.
  app.openAPIRegistry.register('CampaignWebhook', CampaignWebhookSchema);
  app.openapi(createCampaignRoute, async (c) => {
    const body = c.req.valid('json');
    const services = c.get('services');
    const user = c.get('user');
    const settings = {
      cps: body.cps ?? 1,
      maxConcurrent: body.max_concurrent ?? 10,
      startsAt: body.starts_at ? new Date(body.starts_at) : null,
      endsAt: body.ends_at ? new Date(body.ends_at) : null,
    };
    checkCampaignBounds(services.config, settings, body);
    checkCampaignCallback(services.config, body.status_callback);
    const target = await resolveCampaignTarget(services, body, writableOwner(user));
    const row = await createCampaign(services.db, {
      ownerId: user.id,
      name: body.name,
      ...target,
      callerId: body.caller_id ?? null,
      timezone: body.timezone,
      windows: body.windows,
      retry: body.retry ?? {},
      maxAttemptsPerDay: body.max_attempts_per_day ?? 1,
      ringTimeoutMs: body.ring_timeout_ms ?? services.config.DEFAULT_TIMEOUT,
      variables: body.variables ?? {},
      statusCallback: body.status_callback ?? null,
      statusCallbackEvents: body.status_callback_events ?? null,
      ...settings,
    });
    await auditCampaign(c, 'campaign.create', row.id, { name: row.name });
    const zero = Object.fromEntries(CAMPAIGN_COUNTERS.map((n) => [n, 0]));
    return c.json(presentCampaign(row, zero), 201);
  });
};
