import { unwrap } from '../../client/index.ts';
import { integer, type Values } from './args.ts';
import type { Output } from './output.ts';

/** The paging options every list command takes. */
export const PAGING_OPTIONS = [
  '  --limit N              items per page, 1 to 100 (default 50)',
  '  --cursor CURSOR        the page after this one (printed under a table that has more)',
  '  --all                  every page, one after another',
].join('\n');
export const PAGING_PARSE = {
  limit: { type: 'string' },
  cursor: { type: 'string' },
  all: { type: 'boolean' },
} as const;

interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}
type Result<T> = { data?: Page<T>; error?: unknown; response: Response };

/**
 * A listing, one page or (--all) every page by following `next_cursor`. What --json prints is the
 * last page's shape: `{items, next_cursor}`, with every item when --all gathered them.
 */
export async function listPages<T>(
  values: Values,
  fetchPage: (query: { limit: number; cursor?: string }) => Promise<Result<T>>,
): Promise<Page<T> & { next_cursor: string | null }> {
  const limit = integer(values, 'limit', 1, 100) ?? 50;
  let cursor = typeof values.cursor === 'string' ? values.cursor : undefined;
  const items: T[] = [];
  for (;;) {
    const page = unwrap(await fetchPage(cursor === undefined ? { limit } : { limit, cursor }));
    items.push(...page.items);
    const next = page.next_cursor ?? null;
    if (!next || values.all !== true) return { items, next_cursor: next };
    cursor = next;
  }
}

/** Says where the next page is, under a table. */
export function noteMore(out: Output, page: { next_cursor: string | null }): void {
  if (page.next_cursor && !out.json) out.note(`More: --cursor ${page.next_cursor} (or --all)`);
}
