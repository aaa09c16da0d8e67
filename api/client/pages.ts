import type { OutdialClient } from './client.ts';
import { unwrap } from './client.ts';
import type { paths } from './schema.gen.ts';

/** One page of a cursor-paged list, as every list route answers it. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } }
  ? Omit<NonNullable<Q>, 'cursor'>
  : never;

export interface PageOptions {
  /** Stops the iteration (the request in flight is aborted). */
  signal?: AbortSignal;
}

/**
 * Every item of a cursor-paged list, page by page: the next page is fetched when the items of the
 * last one are used up, so `break` stops fetching. A page that names its own cursor again ends the
 * iteration with an error instead of looping.
 */
export async function* eachItem<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.items;
    if (page.next_cursor === null) return;
    if (page.next_cursor === cursor) throw new Error(`the list answered its own cursor ${cursor} again`);
    cursor = page.next_cursor;
  }
}

/** `GET /api/v2/calls`, every page: the caller's calls (admins and viewers: everyone's), newest first. */
export function listCalls(
  client: OutdialClient,
  query: Query<'/api/v2/calls'> = {},
  options: PageOptions = {},
) {
  return eachItem(async (cursor) =>
    unwrap(await client.GET('/api/v2/calls', { params: { query: { ...query, cursor } }, ...options })),
  );
}

/** `GET /api/v2/campaigns/{campaign_id}/contacts`, every page: the contacts in import order. */
export function listCampaignContacts(
  client: OutdialClient,
  campaignId: string,
  query: Query<'/api/v2/campaigns/{campaign_id}/contacts'> = {},
  options: PageOptions = {},
) {
  return eachItem(async (cursor) =>
    unwrap(
      await client.GET('/api/v2/campaigns/{campaign_id}/contacts', {
        params: { path: { campaign_id: campaignId }, query: { ...query, cursor } },
        ...options,
      }),
    ),
  );
}

/** `GET /api/v2/campaigns`, every page. */
export function listCampaigns(
  client: OutdialClient,
  query: Query<'/api/v2/campaigns'> = {},
  options: PageOptions = {},
) {
  return eachItem(async (cursor) =>
    unwrap(await client.GET('/api/v2/campaigns', { params: { query: { ...query, cursor } }, ...options })),
  );
}

/** `GET /api/v2/flows`, every page. */
export function listFlows(
  client: OutdialClient,
  query: Query<'/api/v2/flows'> = {},
  options: PageOptions = {},
) {
  return eachItem(async (cursor) =>
    unwrap(await client.GET('/api/v2/flows', { params: { query: { ...query, cursor } }, ...options })),
  );
}

/** `GET /api/v2/users` (admins), every page, by username. */
export function listUsers(
  client: OutdialClient,
  query: Query<'/api/v2/users'> = {},
  options: PageOptions = {},
) {
  return eachItem(async (cursor) =>
    unwrap(await client.GET('/api/v2/users', { params: { query: { ...query, cursor } }, ...options })),
  );
}

/** `GET /api/v2/dnc`, every page: the do-not-call list. */
export function listDnc(client: OutdialClient, query: Query<'/api/v2/dnc'> = {}, options: PageOptions = {}) {
  return eachItem(async (cursor) =>
    unwrap(await client.GET('/api/v2/dnc', { params: { query: { ...query, cursor } }, ...options })),
  );
}
