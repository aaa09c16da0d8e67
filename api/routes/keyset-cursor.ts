import { z } from '@hono/zod-openapi';
import { decodeBase64UrlText, encodeBase64Url } from '../lib/base64url.ts';
import { invalidCursor, isStorableTime } from './openapi.ts';

/**
 * The cursor of a newest-first listing (calls, flows, campaigns, the do-not-call list): the last
 * row's creation time and id (a UUID, or what the listing's rows are keyed by), as base64url JSON. A
 * cursor this API did not hand out is a 422.
 */
interface Cursor {
  t: string;
  i: string;
}

export function encodeCursor(row: { createdAt: Date; id: string }): string {
  const c: Cursor = { t: row.createdAt.toISOString(), i: row.id };
  return encodeBase64Url(JSON.stringify(c));
}

const CursorSchema = z.object({ t: z.iso.datetime().refine(isStorableTime), i: z.guid() });

/** `id`: what the rows' ids look like, when they are not UUIDs. */
export function decodeCursor(text: string, id?: z.ZodType<string>): { createdAt: Date; id: string } {
  let raw: unknown = null;
  try {
    raw = JSON.parse(decodeBase64UrlText(text) ?? 'null');
  } catch {
    throw invalidCursor();
  }
  const cursor = (id ? CursorSchema.extend({ i: id }) : CursorSchema).safeParse(raw);
  if (!cursor.success) throw invalidCursor();
  return { createdAt: new Date(cursor.data.t), id: cursor.data.i };
}

/** One page of `rows` fetched with limit + 1, and the cursor of the next page (null on the last). */
export function pageOf<T extends { createdAt: Date; id: string }>(rows: T[], limit: number) {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, next: rows.length > limit && last ? encodeCursor(last) : null };
}

/** The cursor of a listing in id order (a campaign's contacts): the last row's id, as base64url JSON. */
export function encodeIdCursor(id: number): string {
  return encodeBase64Url(JSON.stringify({ a: id }));
}

const IdCursorSchema = z.object({ a: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });

export function decodeIdCursor(text: string): number {
  let raw: unknown = null;
  try {
    raw = JSON.parse(decodeBase64UrlText(text) ?? 'null');
  } catch {
    throw invalidCursor();
  }
  const cursor = IdCursorSchema.safeParse(raw);
  if (!cursor.success) throw invalidCursor();
  return cursor.data.a;
}
