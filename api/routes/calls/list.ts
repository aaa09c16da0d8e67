import { createRoute, z } from '@hono/zod-openapi';
import { listCalls } from '../../../db/queries/calls.ts';
import { readableCallsOwner } from '../../calls/access.ts';
import { presentCall } from '../../calls/present.ts';
import { decodeBase64UrlText, encodeBase64Url } from '../../lib/base64url.ts';
import { requireAuth } from '../../middleware/auth.ts';
import { type App, bearerSecurity, errorResponses, invalidCursor, isStorableTime } from '../openapi.ts';
import { CallListSchema, ListCallsQuerySchema } from './schema.ts';

interface Cursor {
  t: string;
  i: string;
}

function encodeCursor(c: Cursor): string {
  return encodeBase64Url(JSON.stringify(c));
}

// What a cursor of this listing holds: the last row's creation time and id.
const CursorSchema = z.object({ t: z.iso.datetime().refine(isStorableTime), i: z.guid() });

function decodeCursor(text: string): { createdAt: Date; id: string } {
  let raw: unknown = null;
  try {
    raw = JSON.parse(decodeBase64UrlText(text) ?? 'null');
  } catch {
    throw invalidCursor();
  }
  const cursor = CursorSchema.safeParse(raw);
  if (!cursor.success) throw invalidCursor();
  return { createdAt: new Date(cursor.data.t), id: cursor.data.i };
}

export const listCallsRoute = createRoute({
  method: 'get',
  path: '/api/v2/calls',
  tags: ['Calls'],
  summary: 'List calls',
  description:
    'The caller’s calls (admins and viewers: all calls), newest first, filtered and paged with a cursor.',
  security: bearerSecurity,
  middleware: [requireAuth()] as const,
  request: { query: ListCallsQuerySchema },
  responses: {
    200: { description: 'A page of calls', content: { 'application/json': { schema: CallListSchema } } },
    ...errorResponses(401, 422, 500, 503),
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
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next =
      rows.length > q.limit && last ? encodeCursor({ t: last.createdAt.toISOString(), i: last.id }) : null;
    return c.json({ items: page.map(presentCall), next_cursor: next }, 200);
  });
