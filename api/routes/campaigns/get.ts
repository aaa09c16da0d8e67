import { createRoute } from '@hono/zod-openapi';
import { CampaignSchema } from '../../campaigns/bodies.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { CampaignIdParamSchema, campaignBody, findCampaign } from './schema.ts';

export const getCampaignRoute = createRoute({
  method: 'get',
  path: '/api/v2/campaigns/{campaign_id}',
  tags: ['Campaigns'],
  summary: 'Get a campaign',
  description:
    'The campaign’s settings, state and counters (every counter named, 0 until something counted). ' +
    'Campaigns of other users answer 404 (admins and viewers see every campaign).',
  ...guarded('campaigns:read'),
  request: { params: CampaignIdParamSchema },
  responses: {
    200: { description: 'The campaign', content: { 'application/json': { schema: CampaignSchema } } },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerGetCampaign = (app: App) =>
  app.openapi(getCampaignRoute, async (c) => {
    const campaign = await findCampaign(c, c.req.valid('param').campaign_id, 'read');
    return c.json(await campaignBody(c, campaign), 200);
  });
