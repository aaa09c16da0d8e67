import { createRoute } from '@hono/zod-openapi';
import { type ContactRow, listContacts } from '../../../db/queries/campaign-contacts.ts';
import { decodeIdCursor, encodeIdCursor } from '../keyset-cursor.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import {
  CampaignIdParamSchema,
  ContactListSchema,
  findCampaign,
  ListContactsQuerySchema,
} from './contacts-schema.ts';

export const listContactsRoute = createRoute({
  method: 'get',
  path: '/api/v2/campaigns/{campaign_id}/contacts',
  tags: ['Campaigns'],
  summary: 'List a campaign’s contacts',
  description:
    'The campaign’s contacts in import order, paged with a cursor, filtered by state, final outcome or the ' +
    'start of the number. Campaigns of other users answer 404 (admins and viewers see every campaign).',
  ...guarded('campaigns:read'),
  request: { params: CampaignIdParamSchema, query: ListContactsQuerySchema },
  responses: {
    200: {
      description: 'A page of contacts',
      content: { 'application/json': { schema: ContactListSchema } },
    },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

const presentContact = (row: ContactRow) => ({
  id: row.id,
  phone_number: row.phoneNumber,
  timezone: row.timezone,
  variables: row.variables,
  state: row.state,
  attempts: row.attempts,
  next_attempt_at: row.nextAttemptAt?.toISOString() ?? null,
  last_call_id: row.lastCallId,
  last_outcome: row.lastOutcome,
  final_outcome: row.finalOutcome,
  answered_by: row.answeredBy,
  source_row: row.sourceRow,
  created_at: row.createdAt.toISOString(),
  updated_at: row.updatedAt.toISOString(),
});

export const registerListContacts = (app: App) =>
  app.openapi(listContactsRoute, async (c) => {
    const q = c.req.valid('query');
    const campaign = await findCampaign(c, 'read');
    const rows = await listContacts(c.get('services').db, {
      campaignId: campaign.id,
      state: q.state,
      finalOutcome: q.final_outcome,
      phonePrefix: q.phone_number,
      afterId: q.cursor ? decodeIdCursor(q.cursor) : undefined,
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? encodeIdCursor(last.id) : null;
    return c.json({ items: page.map(presentContact), next_cursor: next }, 200);
  });
