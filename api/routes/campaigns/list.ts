import { createRoute } from '@hono/zod-openapi';
import { listCampaigns } from '../../../db/queries/campaigns.ts';
import { readableOwner } from '../../auth/owner.ts';
import { CampaignListSchema } from '../../campaigns/bodies.ts';
import { decodeCursor, pageOf } from '../keyset-cursor.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { campaignBodies, ListCampaignsQuerySchema } from './schema.ts';

export const listCampaignsRoute = createRoute({
  method: 'get',
  path: '/api/v2/campaigns',
  tags: ['Campaigns'],
  summary: 'List campaigns',
  description:
    'The caller’s campaigns (admins and viewers: every campaign), newest first, each with its counters, ' +
    'paged with a cursor; `state` keeps one state.',
  ...guarded('campaigns:read'),
  request: { query: ListCampaignsQuerySchema },
  responses: {
    200: {
      description: 'A page of campaigns',
      content: { 'application/json': { schema: CampaignListSchema } },
    },
    ...errorResponses(401, 403, 422, 500, 503),
  },
});

export const registerListCampaigns = (app: App) =>
  app.openapi(listCampaignsRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listCampaigns(c.get('services').db, {
      ownerId: readableOwner(c.get('user')),
      state: q.state,
      before: q.cursor ? decodeCursor(q.cursor) : undefined,
      limit: q.limit + 1,
    });
    const { page, next } = pageOf(rows, q.limit);
    return c.json({ items: await campaignBodies(c, page), next_cursor: next }, 200);
  });
