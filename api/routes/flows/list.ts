import { createRoute } from '@hono/zod-openapi';
import { listFlows } from '../../../db/queries/flows.ts';
import { readableFlowsOwner } from '../../flows/access.ts';
import { presentFlow } from '../../flows/present.ts';
import { decodeCursor, pageOf } from '../keyset-cursor.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { FlowListSchema, ListFlowsQuerySchema } from './schema.ts';

export const listFlowsRoute = createRoute({
  method: 'get',
  path: '/api/v2/flows',
  tags: ['Flows'],
  summary: 'List saved flows',
  description:
    'The caller’s flows (admins and viewers: all flows), newest first, paged with a cursor. Archived flows ' +
    'are left out unless `include_archived=true`.',
  ...guarded('flows:read'),
  request: { query: ListFlowsQuerySchema },
  responses: {
    200: { description: 'A page of flows', content: { 'application/json': { schema: FlowListSchema } } },
    ...errorResponses(401, 403, 422, 500, 503),
  },
});

export const registerListFlows = (app: App) =>
  app.openapi(listFlowsRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listFlows(c.get('services').db, {
      ownerId: readableFlowsOwner(c.get('user')),
      includeArchived: q.include_archived === 'true',
      before: q.cursor ? decodeCursor(q.cursor) : undefined,
      limit: q.limit + 1,
    });
    const { page, next } = pageOf(rows, q.limit);
    return c.json({ items: page.map(presentFlow), next_cursor: next }, 200);
  });
