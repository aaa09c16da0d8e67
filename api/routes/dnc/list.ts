import { createRoute } from '@hono/zod-openapi';
import { listDnc } from '../../../db/queries/dnc.ts';
import { DncListSchema } from '../../campaigns/bodies.ts';
import { presentDnc } from '../../campaigns/present.ts';
import { decodeCursor, pageOf } from '../keyset-cursor.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { E164Schema, ListDncQuerySchema } from './schema.ts';

export const listDncRoute = createRoute({
  method: 'get',
  path: '/api/v2/dnc',
  tags: ['Do not call'],
  summary: 'List the do-not-call list',
  description: 'Every listed number, newest first, paged with a cursor.',
  ...guarded('campaigns:read'),
  request: { query: ListDncQuerySchema },
  responses: {
    200: { description: 'A page of entries', content: { 'application/json': { schema: DncListSchema } } },
    ...errorResponses(401, 403, 422, 500, 503),
  },
});

export const registerListDnc = (app: App) =>
  app.openapi(listDncRoute, async (c) => {
    const q = c.req.valid('query');
    const cursor = q.cursor ? decodeCursor(q.cursor, E164Schema) : undefined;
    const rows = await listDnc(c.get('services').db, {
      before: cursor ? { addedAt: cursor.createdAt, phoneNumber: cursor.id } : undefined,
      limit: q.limit + 1,
    });
    const keyed = rows.map((row) => ({ row, createdAt: row.addedAt, id: row.phoneNumber }));
    const { page, next } = pageOf(keyed, q.limit);
    return c.json({ items: page.map((k) => presentDnc(k.row)), next_cursor: next }, 200);
  });
