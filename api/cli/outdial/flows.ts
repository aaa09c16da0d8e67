import { type components, unwrap } from '../../client/index.ts';
import { type CommandGroup, integer, text } from './args.ts';
import { readJsonFile } from './files.ts';
import type { Column } from './output.ts';
import { listPages, noteMore, PAGING_OPTIONS, PAGING_PARSE } from './paging.ts';

type FlowSummary = components['schemas']['FlowSummary'];
type CreateFlowRequest = components['schemas']['CreateFlowRequest'];

const FLOW_COLUMNS: Column<FlowSummary>[] = [
  ['id', (f) => f.flow_id],
  ['name', (f) => f.name],
  ['version', (f) => f.latest_version],
  ['archived', (f) => (f.archived ? 'yes' : 'no')],
  ['updated', (f) => f.updated_at],
];

export const flowCommands: CommandGroup = {
  list: {
    synopsis: '[--archived] [--limit N] [--cursor C] [--all]',
    summary: 'List flows, newest first.',
    options: `  --archived             include archived flows\n${PAGING_OPTIONS}`,
    parse: { ...PAGING_PARSE, archived: { type: 'boolean' } },
    async run({ values, out, api }) {
      const archived = values.archived === true;
      const page = await listPages(values, (query) =>
        api().GET('/api/v2/flows', {
          params: { query: { ...query, ...(archived ? { include_archived: 'true' as const } : {}) } },
        }),
      );
      out.result(page, () => out.table(page.items, FLOW_COLUMNS));
      noteMore(out, page);
    },
  },
  show: {
    synopsis: 'FLOW_ID [--version N]',
    summary: 'Show a flow: its latest version’s steps (or those of --version) and its versions.',
    options: '  --version N            that version’s steps',
    parse: { version: { type: 'string' } },
    args: ['FLOW_ID'],
    async run({ values, args, out, api }) {
      const flowId = args[0]!;
      const version = integer(values, 'version', 1, 1_000_000);
      if (version !== undefined) {
        const v = unwrap(
          await api().GET('/api/v2/flows/{flow_id}/versions/{version}', {
            params: { path: { flow_id: flowId, version } },
          }),
        );
        out.result(v, () => out.line(JSON.stringify(v, null, 2)));
        return;
      }
      const flow = unwrap(
        await api().GET('/api/v2/flows/{flow_id}', { params: { path: { flow_id: flowId } } }),
      );
      out.result(flow, () => {
        out.record([
          ...FLOW_COLUMNS.map(([header, value]): [string, unknown] => [header, value(flow)]),
          ['description', flow.description],
          [
            'versions',
            flow.versions.map((v) => `${v.version} (${v.step_count} steps, ${v.created_at})`).join('; '),
          ],
        ]);
        out.line('steps:');
        out.line(JSON.stringify(flow.steps, null, 2));
      });
    },
  },
  create: {
    synopsis: '--file FLOW.json',
    summary:
      'Create a flow from a JSON file: {"name": …, "description": …, "steps": [ … ]} (the Flows section of /docs ' +
      'has every step). `--file -` reads standard input.',
    options: '  --file FILE            the flow, as POST /api/v2/flows takes it',
    parse: { file: { type: 'string' } },
    async run({ values, out, api }) {
      const body = (await readJsonFile(text(values, 'file'))) as CreateFlowRequest;
      const flow = unwrap(await api().POST('/api/v2/flows', { body }));
      out.result(flow, () =>
        out.line(`Flow ${flow.flow_id} created (version ${flow.version}, ${flow.steps.length} steps).`),
      );
    },
  },
};
