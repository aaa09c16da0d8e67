import { type components, unwrap } from '../../client/index.ts';
import { CAMPAIGN_STATES } from '../../shared/contract/index.ts';
import { type CommandGroup, type CommandInput, text, UsageError } from './args.ts';
import { readJsonFile } from './files.ts';
import type { Column } from './output.ts';
import { listPages, noteMore, PAGING_OPTIONS, PAGING_PARSE } from './paging.ts';
import { fileBody, fileSize, uploadProgress } from './upload.ts';

type Campaign = components['schemas']['Campaign'];
type CreateCampaignRequest = components['schemas']['CreateCampaignRequest'];
type ImportReport = components['schemas']['ContactImportReport'];

/** Rejected rows listed in the table; the API's report (--json) has up to 1000. */
const SHOWN_REJECTED = 50;

const CAMPAIGN_COLUMNS: Column<Campaign>[] = [
  ['id', (c) => c.campaign_id],
  ['name', (c) => c.name],
  ['state', (c) => c.state],
  ['contacts', (c) => c.counters.total],
  ['done', (c) => c.counters.done],
  ['in progress', (c) => c.counters.in_progress],
  ['answered', (c) => c.counters.outcome_answered],
  ['created', (c) => c.created_at],
];

const ACTIONS = {
  start: 'Start a draft campaign: its contacts are called inside their windows.',
  pause: 'Pause a running campaign: no new attempts; calls up finish.',
  resume: 'Resume a paused campaign.',
  cancel: 'Cancel a campaign: no more attempts, ever.',
} as const;

function actionCommand(action: keyof typeof ACTIONS) {
  return {
    synopsis: 'CAMPAIGN_ID',
    summary: ACTIONS[action],
    args: ['CAMPAIGN_ID'],
    async run({ args, out, api }: CommandInput) {
      const campaign = unwrap(
        await api().POST(`/api/v2/campaigns/{campaign_id}/${action}`, {
          params: { path: { campaign_id: args[0]! } },
        }),
      );
      out.result(campaign, () => out.line(`Campaign ${campaign.campaign_id} is ${campaign.state}.`));
    },
  };
}

function showCampaign({ out }: CommandInput, c: Campaign) {
  out.record([
    ...CAMPAIGN_COLUMNS.filter(
      ([h]) => h !== 'contacts' && h !== 'done' && h !== 'in progress' && h !== 'answered',
    ).map(([header, value]): [string, unknown] => [header, value(c)]),
    ['flow', c.flow_id ? `${c.flow_id} v${c.flow_version ?? 'latest'}` : null],
    ['timezone', c.timezone],
    ['pace', `${c.cps} calls/s, ${c.max_concurrent} at once`],
    ['started', c.started_at],
    ['finished', c.finished_at],
  ]);
  out.line('counters:');
  out.table(
    Object.entries(c.counters).map(([name, count]) => ({ name, count })),
    [
      ['counter', (r) => r.name],
      ['count', (r) => r.count],
    ],
  );
}

async function importContacts(input: CommandInput) {
  const [campaignId, path] = [input.args[0]!, input.args[1]!];
  const { out } = input;
  const total = fileSize(path, 'FILE');
  const progress = uploadProgress(out, total);
  let sent = 0;
  const body = fileBody(path, (n) => {
    sent = n;
    progress.update(n);
  });
  // The body is streamed as it is read, never held whole; the route reads it the same way.
  const result = await input.api().POST('/api/v2/campaigns/{campaign_id}/contacts', {
    params: { path: { campaign_id: campaignId } },
    body: '',
    bodySerializer: () => body,
    headers: { 'Content-Type': 'text/csv' },
    duplex: 'half',
  });
  progress.done(sent);
  const report: ImportReport = unwrap(result);
  out.result(report, () => {
    out.line(`accepted ${report.accepted}, merged ${report.merged}, rejected ${report.rejected_count}`);
    if (report.rejected.length === 0) return;
    out.line('rejected rows:');
    out.table(report.rejected.slice(0, SHOWN_REJECTED), [
      ['row', (r) => r.row],
      ['reason', (r) => r.reason],
    ]);
    const shown = Math.min(report.rejected.length, SHOWN_REJECTED);
    if (report.rejected_count > shown) {
      out.line(
        `(${report.rejected_count - shown} more rejected rows; --json lists the first ${report.rejected.length})`,
      );
    }
  });
}

export const campaignCommands: CommandGroup = {
  list: {
    synopsis: '[--state STATE] [--limit N] [--cursor C] [--all]',
    summary: 'List campaigns, newest first.',
    options: `  --state STATE          only ${CAMPAIGN_STATES.join(', ')}\n${PAGING_OPTIONS}`,
    parse: { ...PAGING_PARSE, state: { type: 'string' } },
    async run({ values, out, api }) {
      const state = text(values, 'state');
      if (state !== undefined && !(CAMPAIGN_STATES as readonly string[]).includes(state)) {
        throw new UsageError(`--state must be one of ${CAMPAIGN_STATES.join(', ')}`);
      }
      const page = await listPages(values, (query) =>
        api().GET('/api/v2/campaigns', {
          params: { query: { ...query, ...(state ? { state: state as Campaign['state'] } : {}) } },
        }),
      );
      out.result(page, () => out.table(page.items, CAMPAIGN_COLUMNS));
      noteMore(out, page);
    },
  },
  show: {
    synopsis: 'CAMPAIGN_ID',
    summary: 'Show a campaign: its settings, state and counters.',
    args: ['CAMPAIGN_ID'],
    async run(input) {
      const campaign = unwrap(
        await input.api().GET('/api/v2/campaigns/{campaign_id}', {
          params: { path: { campaign_id: input.args[0]! } },
        }),
      );
      input.out.result(campaign, () => showCampaign(input, campaign));
    },
  },
  create: {
    synopsis: '--file CAMPAIGN.json',
    summary:
      'Create a draft campaign from a JSON file, as POST /api/v2/campaigns takes it (the Campaigns section of ' +
      '/docs). `--file -` reads standard input. Then import its contacts and start it.',
    options: '  --file FILE            the campaign',
    parse: { file: { type: 'string' } },
    async run(input) {
      const body = (await readJsonFile(text(input.values, 'file'))) as CreateCampaignRequest;
      const campaign = unwrap(await input.api().POST('/api/v2/campaigns', { body }));
      input.out.result(campaign, () =>
        input.out.line(`Campaign ${campaign.campaign_id} "${campaign.name}" created (${campaign.state}).`),
      );
    },
  },
  import: {
    synopsis: 'CAMPAIGN_ID FILE.csv',
    summary:
      'Import contacts from a CSV file (a header row naming phone_number, optionally timezone; other columns are ' +
      'call variables). The file is streamed with its progress on stderr; at the end, how many rows were ' +
      'accepted, merged and rejected, and why each rejected row was.',
    args: ['CAMPAIGN_ID', 'FILE.csv'],
    run: importContacts,
  },
  start: actionCommand('start'),
  pause: actionCommand('pause'),
  resume: actionCommand('resume'),
  cancel: actionCommand('cancel'),
  results: {
    synopsis: 'CAMPAIGN_ID',
    summary:
      'Write a campaign’s results to stdout as CSV, one row per contact (with --json, a JSON array), streamed as ' +
      'the server reads them.',
    args: ['CAMPAIGN_ID'],
    async run({ args, out, api }) {
      const result = await api().GET('/api/v2/campaigns/{campaign_id}/results', {
        params: { path: { campaign_id: args[0]! } },
        headers: { Accept: out.json ? 'application/json' : 'text/csv' },
        parseAs: 'stream',
      });
      const body = unwrap(result);
      if (!body) return;
      for await (const chunk of body as ReadableStream<Uint8Array>) process.stdout.write(chunk);
    },
  },
};
