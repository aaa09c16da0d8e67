import { createRoute } from '@hono/zod-openapi';
import { listCalls } from '../../../db/queries/calls.ts';
import { readableCallsOwner } from '../../calls/access.ts';
import { presentCall } from '../../calls/present.ts';
import { decodeCursor, pageOf } from '../keyset-cursor.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { CallListSchema, ListCallsQuerySchema } from './schema.ts';

export const listCallsRoute = createRoute({
  method: 'get',
  path: '/api/v2/calls',
  tags: ['Calls'],
  summary: 'List calls',
  description:
    'The caller’s calls (admins and viewers: all calls), newest first, filtered and paged with a cursor.',
  ...guarded('calls:read'),
  request: { query: ListCallsQuerySchema },
  responses: {
    200: { description: 'A page of calls', content: { 'application/json': { schema: CallListSchema } } },
    ...errorResponses(401, 403, 422, 500, 503),
  },
});

export const registerListCalls = (app: App) =>
  app.openapi(listCallsRoute, async (c) => {
    const q = c.req.valid('query');
    const user = c.get('user');
    const rows = await listCalls(c.get('services').db, {
      ownerId: readableCallsOwner(user),
      status: q.status,
      phoneNumber: q.phone_number,
      createdAfter: q.created_after ? new Date(q.created_after) : undefined,
      createdBefore: q.created_before ? new Date(q.created_before) : undefined,
      before: q.cursor ? decodeCursor(q.cursor) : undefined,
      limit: q.limit + 1,
    });
    const { page, next } = pageOf(rows, q.limit);
    return c.json({ items: page.map(presentCall), next_cursor: next }, 200);
  });
