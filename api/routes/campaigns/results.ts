import { createRoute, z } from '@hono/zod-openapi';
import { resultsPage, resultsShape } from '../../../db/queries/campaign-contacts.ts';
import { csvHeader, csvRow, resultRecord } from '../../campaigns/results.ts';
import { DATABASE_STREAM_HEADER } from '../../lib/database-stream.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { CampaignIdParamSchema, findCampaign, ResultRecordSchema } from './contacts-schema.ts';

/** Contacts read from the database per page of the export. */
const PAGE = 500;

export const campaignResultsRoute = createRoute({
  method: 'get',
  path: '/api/v2/campaigns/{campaign_id}/results',
  tags: ['Campaigns'],
  summary: 'Export a campaign’s results',
  description:
    'One row per contact, in import order: its number, state, attempts, final outcome, who answered, each ' +
    'attempt’s call id, outcome and start and end times, and the answers of its last answered call’s flow. ' +
    '`Accept: text/csv` (the default) gives CSV (RFC 4180, CRLF; columns `attempt_<n>_call_id`, ' +
    '`attempt_<n>_outcome`, `attempt_<n>_started_at`, `attempt_<n>_ended_at` for as many attempts as the most ' +
    'any contact had, then `answer_<name>` for every answer name; a recording answer is its name). ' +
    '`Accept: application/json` gives one JSON array of `CampaignResult`. Either is streamed as it is read, ' +
    'page by page: a campaign still running may change between pages, and attempts made after the export ' +
    'began are left out of the CSV columns.',
  ...guarded('campaigns:read'),
  request: { params: CampaignIdParamSchema },
  responses: {
    200: {
      description: 'The results',
      content: {
        'text/csv': {
          schema: z
            .string()
            .openapi({ example: 'phone_number,state,attempts,final_outcome,answered_by\r\n' }),
        },
        'application/json': { schema: z.array(ResultRecordSchema) },
      },
    },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

/** JSON when the caller asks for it before (or instead of) CSV; CSV otherwise. */
function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const types = accept.split(',').map((part) => part.split(';')[0]!.trim().toLowerCase());
  const json = types.indexOf('application/json');
  const csv = types.indexOf('text/csv');
  return json >= 0 && (csv < 0 || json < csv);
}

export const registerCampaignResults = (app: App) =>
  app.openapi(campaignResultsRoute, async (c) => {
    const campaign = await findCampaign(c, 'read');
    const db = c.get('services').db;
    const json = wantsJson(c.req.header('accept'));
    const shape = json ? null : await resultsShape(db, campaign.id);
    const encoder = new TextEncoder();
    let afterId = 0;
    let first = true;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        let text = '';
        if (first) text += shape ? csvHeader(shape) : '[';
        const page = await resultsPage(db, campaign.id, afterId, PAGE);
        for (const result of page) {
          text += shape
            ? csvRow(result, shape)
            : `${first ? '' : ','}\n${JSON.stringify(resultRecord(result))}`;
          first = false;
        }
        first = false;
        if (page.length < PAGE) {
          if (!shape) text += '\n]\n';
          controller.enqueue(encoder.encode(text));
          controller.close();
          return;
        }
        afterId = page.at(-1)!.contact.id;
        controller.enqueue(encoder.encode(text));
      },
    });
    const headers: Record<string, string> = {
      'Content-Type': shape ? 'text/csv; charset=utf-8' : 'application/json',
      'Content-Disposition': `attachment; filename="campaign-${campaign.id}-results.${shape ? 'csv' : 'json'}"`,
      [DATABASE_STREAM_HEADER]: '1',
    };
    return c.body(body, 200, headers) as never;
  });
