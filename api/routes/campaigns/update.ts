import { createRoute } from '@hono/zod-openapi';
import { type CampaignChanges, updateCampaign } from '../../../db/queries/campaigns.ts';
import { writableOwner } from '../../auth/owner.ts';
import { CampaignSchema } from '../../campaigns/bodies.ts';
import {
  checkCampaignBounds,
  checkCampaignCallback,
  namesTarget,
  resolveCampaignTarget,
} from '../../campaigns/validate.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import {
  auditCampaign,
  CampaignIdParamSchema,
  campaignBody,
  findCampaign,
  stateConflict,
  UpdateCampaignBodySchema,
} from './schema.ts';

export const updateCampaignRoute = createRoute({
  method: 'patch',
  path: '/api/v2/campaigns/{campaign_id}',
  tags: ['Campaigns'],
  summary: 'Change a campaign',
  description:
    'Changes the settings given, with the checks of a new campaign, while the campaign is `draft` or ' +
    '`paused` (otherwise 409 naming its state). Giving `flow_id` or any of `context`, `extension`, ' +
    '`priority` replaces what answered calls do (`flow_version` goes with `flow_id`); `null` clears ' +
    '`caller_id`, `starts_at`, `ends_at`, `status_callback` or `status_callback_events` (then every kind). ' +
    'A paused campaign’s new settings apply to attempts leased after it resumes.',
  ...guarded('campaigns:write', 'admin', 'operator'),
  request: {
    params: CampaignIdParamSchema,
    body: { required: true, content: { 'application/json': { schema: UpdateCampaignBodySchema } } },
  },
  responses: {
    200: {
      description: 'The campaign as changed',
      content: { 'application/json': { schema: CampaignSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503),
  },
});

const EDITABLE = 'only draft and paused campaigns can be changed';

export const registerUpdateCampaign = (app: App) =>
  app.openapi(updateCampaignRoute, async (c) => {
    const body = c.req.valid('json');
    const services = c.get('services');
    const user = c.get('user');
    const campaign = await findCampaign(c, c.req.valid('param').campaign_id, 'write');
    if (campaign.state !== 'draft' && campaign.state !== 'paused')
      throw stateConflict(campaign.state, EDITABLE);

    const changes: CampaignChanges = {};
    if (body.name !== undefined) changes.name = body.name;
    if (body.caller_id !== undefined) changes.callerId = body.caller_id;
    if (body.timezone !== undefined) changes.timezone = body.timezone;
    if (body.windows !== undefined) changes.windows = body.windows;
    if (body.starts_at !== undefined)
      changes.startsAt = body.starts_at === null ? null : new Date(body.starts_at);
    if (body.ends_at !== undefined) changes.endsAt = body.ends_at === null ? null : new Date(body.ends_at);
    if (body.retry !== undefined) changes.retry = body.retry;
    if (body.max_attempts_per_day !== undefined) changes.maxAttemptsPerDay = body.max_attempts_per_day;
    if (body.cps !== undefined) changes.cps = body.cps;
    if (body.max_concurrent !== undefined) changes.maxConcurrent = body.max_concurrent;
    if (body.ring_timeout_ms !== undefined) changes.ringTimeoutMs = body.ring_timeout_ms;
    if (body.variables !== undefined) changes.variables = body.variables;
    if (body.status_callback !== undefined) changes.statusCallback = body.status_callback;
    if (body.status_callback_events !== undefined) changes.statusCallbackEvents = body.status_callback_events;
    checkCampaignCallback(services.config, body.status_callback);

    checkCampaignBounds(
      services.config,
      {
        cps: changes.cps ?? campaign.cps,
        maxConcurrent: changes.maxConcurrent ?? campaign.maxConcurrent,
        startsAt: changes.startsAt === undefined ? campaign.startsAt : changes.startsAt,
        endsAt: changes.endsAt === undefined ? campaign.endsAt : changes.endsAt,
      },
      body,
    );
    if (namesTarget(body)) {
      // The flow must be one the campaign's owner may use: an admin changing another's campaign
      // gives it only that owner's flows.
      const flowOwner = campaign.ownerId === user.id ? writableOwner(user) : campaign.ownerId;
      Object.assign(changes, await resolveCampaignTarget(services, body, flowOwner));
    }

    const moved = await updateCampaign(services.db, campaign.id, changes);
    if (!moved.ok) throw stateConflict(moved.state, EDITABLE);
    await auditCampaign(c, 'campaign.update', campaign.id, { fields: Object.keys(body) });
    return c.json(await campaignBody(c, moved.campaign), 200);
  });
