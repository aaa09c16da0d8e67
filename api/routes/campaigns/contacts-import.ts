import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyText, tooLarge } from '../../campaigns/import/body.ts';
import { csvRecords } from '../../campaigns/import/csv.ts';
import { jsonArrayElements } from '../../campaigns/import/json.ts';
import { csvContacts, jsonContacts } from '../../campaigns/import/rows.ts';
import { assertImportable, importContacts } from '../../campaigns/import/run.ts';
import { unsupportedMediaType } from '../../errors.ts';
import { requireAuth } from '../../middleware/auth.ts';
import type { AppEnv } from '../../services.ts';
import { type App, errorResponses, scopedSecurity } from '../openapi.ts';
import {
  CampaignIdParamSchema,
  ContactInputSchema,
  findCampaign,
  ImportReportSchema,
} from './contacts-schema.ts';

const PATH = '/api/v2/campaigns/{campaign_id}/contacts';
/** How long an import waits for another import into the same campaign to end. */
const LOCK_WAIT_MS = 30_000;

export const importContactsRoute = createRoute({
  method: 'post',
  path: PATH,
  tags: ['Campaigns'],
  summary: 'Import contacts into a campaign',
  description:
    'Adds contacts to a draft, running or paused campaign, from a JSON array of contacts or a CSV file ' +
    '(`text/csv`: a header row naming `phone_number`, optionally `timezone`, and any other column is a call ' +
    'variable of that name; an empty cell is a variable the contact does not have; RFC 4180 quoting, a BOM ' +
    'and CRLF line ends are read). Numbers are stored in E.164, read in `DEFAULT_PHONE_REGION` when written ' +
    'without a country code. The body is read as it arrives (up to CONTACTS_IMPORT_MAX_ROWS rows and ' +
    'CONTACTS_IMPORT_MAX_BYTES bytes; the 64 KiB limit of other routes does not apply) and the import is ' +
    'atomic: a row that cannot be a contact is reported and skipped, but a body that cannot be read, a cap ' +
    'passed or a body that breaks off keeps none of its rows. A number the campaign already has is merged: ' +
    'the contact first imported keeps its data. Numbers on the do-not-call list are stored (the campaign ' +
    'skips them when it dials). Imports into one campaign run one after another.',
  security: scopedSecurity('campaigns:write'),
  request: {
    params: CampaignIdParamSchema,
    body: {
      required: true,
      content: {
        // Any array is taken: an element that is not a ContactInput is a row reported in `rejected`.
        'application/json': {
          schema: z.array(z.unknown()).openapi({
            description:
              'Contacts, each a `ContactInput` ({phone_number, timezone?, variables?}); an element that is not ' +
              'one is reported in `rejected` with its row and why',
            example: [
              {
                phone_number: '(202) 555-0123',
                timezone: 'America/New_York',
                variables: { FIRST_NAME: 'Ada' },
              },
            ],
          }),
        },
        'text/csv': {
          schema: {
            type: 'string',
            example: 'phone_number,timezone,FIRST_NAME\r\n(202) 555-0123,America/New_York,Ada\r\n',
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'What became of the rows',
      content: { 'application/json': { schema: ImportReportSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 415, 422, 500, 503),
    413: {
      ...errorResponses(403, 413)[413]!,
      description:
        'More rows than CONTACTS_IMPORT_MAX_ROWS or bytes than CONTACTS_IMPORT_MAX_BYTES: nothing imported',
    },
  },
});

const IMPORT_PATH = /^\/api\/v2\/campaigns\/[^/]+\/contacts$/;

/** Whether a request is a contacts import, which takes bodies past the API's usual 64 KiB. */
export const isContactsImport = (c: Context) => c.req.method === 'POST' && IMPORT_PATH.test(c.req.path);

function formatOf(contentType: string | undefined): 'json' | 'csv' {
  const essence = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (essence === 'application/json') return 'json';
  if (essence === 'text/csv') return 'csv';
  throw unsupportedMediaType(['application/json', 'text/csv'], contentType);
}

// The body is read as a stream, never whole, so the route is documented through the registry but
// handled without zod-openapi's body validator (which would read it all).
export const registerImportContacts = (app: App) => {
  app.openAPIRegistry.registerPath(importContactsRoute);
  app.openAPIRegistry.register('ContactInput', ContactInputSchema);
  app.post(
    PATH.replace('{campaign_id}', ':campaign_id'),
    requireAuth('campaigns:write', 'admin', 'operator'),
    async (c: Context<AppEnv>) => {
      const campaign = await findCampaign(c, 'write');
      const format = formatOf(c.req.header('content-type'));
      assertImportable(campaign.state);
      const { config, db } = c.get('services');
      const length = c.req.header('content-length');
      const announced = length !== undefined && /^[0-9]{1,15}$/.test(length) ? Number(length) : undefined;
      if (announced !== undefined && announced > config.CONTACTS_IMPORT_MAX_BYTES) {
        throw tooLarge(config.CONTACTS_IMPORT_MAX_BYTES);
      }
      const text = bodyText(c.req.raw.body, config.CONTACTS_IMPORT_MAX_BYTES, announced);
      const region = config.DEFAULT_PHONE_REGION;
      const rows =
        format === 'csv'
          ? csvContacts(csvRecords(text), region)
          : jsonContacts(jsonArrayElements(text), region);
      const report = await importContacts(db, {
        campaignId: campaign.id,
        rows,
        maxRows: config.CONTACTS_IMPORT_MAX_ROWS,
        lockWaitMs: LOCK_WAIT_MS,
      });
      return c.json(ImportReportSchema.parse(report), 200);
    },
  );
};
