import { readFileSync } from 'node:fs';
import { type components, type Problem, unwrap } from '../../client/index.ts';
import { type CommandGroup, text, UsageError } from './args.ts';
import type { Column } from './output.ts';
import { listPages, noteMore, PAGING_OPTIONS, PAGING_PARSE } from './paging.ts';

type DncEntry = components['schemas']['DncEntry'];

const DNC_COLUMNS: Column<DncEntry>[] = [
  ['number', (e) => e.phone_number],
  ['source', (e) => e.source],
  ['note', (e) => e.note],
  ['added', (e) => e.added_at],
];

/** The most numbers one bulk request takes (the API's limit, POST /api/v2/dnc/bulk). */
const BULK_MAX = 10_000;

/**
 * The rows of an import file: one number per line, optionally a comma and a note after it; blank
 * lines and lines starting with # are skipped. Each row keeps its line number for messages.
 */
export function dncRows(textContent: string): { line: number; phone_number: string; note?: string }[] {
  const rows: { line: number; phone_number: string; note?: string }[] = [];
  textContent.split(/\r\n|\n|\r/).forEach((raw, i) => {
    const lineText = raw.trim();
    if (!lineText || lineText.startsWith('#')) return;
    const comma = lineText.indexOf(',');
    const phone = (comma < 0 ? lineText : lineText.slice(0, comma)).trim();
    const note = comma < 0 ? '' : lineText.slice(comma + 1).trim();
    rows.push({ line: i + 1, phone_number: phone, ...(note ? { note } : {}) });
  });
  return rows;
}

export const dncCommands: CommandGroup = {
  list: {
    synopsis: '[--limit N] [--cursor CURSOR] [--all]',
    summary: 'List the do-not-call list, newest first.',
    options: PAGING_OPTIONS,
    parse: PAGING_PARSE,
    async run({ values, out, api }) {
      const page = await listPages(values, (query) => api().GET('/api/v2/dnc', { params: { query } }));
      out.result(page, () => {
        out.table(page.items, DNC_COLUMNS);
        noteMore(out, page);
      });
    },
  },
  check: {
    synopsis: 'NUMBER',
    summary:
      'Whether NUMBER (E.164, or as written in the server’s region) is on the list: prints its entry, or says ' +
      'it is not listed. Exit 0 either way.',
    args: ['NUMBER'],
    async run({ args, out, api }) {
      const path = { phone_number: args[0]! };
      const result = await api().GET('/api/v2/dnc/numbers/{phone_number}', { params: { path } });
      if (result.response.status === 404) {
        out.result({ listed: false }, () => out.line(`${args[0]} is not on the do-not-call list.`));
        return;
      }
      const entry = unwrap(result);
      out.result({ listed: true, entry }, () => out.record(DNC_COLUMNS.map(([h, v]) => [h, v(entry)])));
    },
  },
  add: {
    synopsis: 'NUMBER [--note TEXT]',
    summary: 'Put NUMBER on the do-not-call list: no campaign dials it from now on.',
    options: '  --note TEXT            why, in words (at most 200 characters)',
    parse: { note: { type: 'string' } },
    args: ['NUMBER'],
    async run({ args, values, out, api }) {
      const note = text(values, 'note');
      const entry = unwrap(
        await api().POST('/api/v2/dnc', { body: { phone_number: args[0]!, ...(note ? { note } : {}) } }),
      );
      out.result(entry, () => out.record(DNC_COLUMNS.map(([h, v]) => [h, v(entry)])));
    },
  },
  remove: {
    synopsis: 'NUMBER',
    summary: 'Take NUMBER off the do-not-call list (admins only).',
    args: ['NUMBER'],
    async run({ args, out, api }) {
      const path = { phone_number: args[0]! };
      const entry = unwrap(await api().DELETE('/api/v2/dnc/numbers/{phone_number}', { params: { path } }));
      out.result(entry, () => out.line(`${entry.phone_number} is no longer on the do-not-call list.`));
    },
  },
  import: {
    synopsis: 'FILE',
    summary:
      `Put the numbers of FILE (or - for standard input) on the list: one number per line, optionally a comma ` +
      `and a note after it; blank lines and lines starting with # are skipped. Sent ${BULK_MAX.toLocaleString('en')} ` +
      'at a time, each batch all or none: a refused row stops the import there, naming its line.',
    args: ['FILE'],
    async run({ args, out, api }) {
      const path = args[0]!;
      let content: string;
      try {
        content = path === '-' ? await Bun.stdin.text() : readFileSync(path, 'utf8');
      } catch (error) {
        throw new UsageError(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`);
      }
      const rows = dncRows(content);
      if (rows.length === 0) throw new UsageError(`${path} has no numbers`);
      const total = { received: 0, added: 0, already_listed: 0 };
      for (let start = 0; start < rows.length; start += BULK_MAX) {
        const batch = rows.slice(start, start + BULK_MAX);
        const result = await api().POST('/api/v2/dnc/bulk', {
          body: batch.map(({ phone_number, note }) => ({ phone_number, ...(note ? { note } : {}) })),
        });
        if (result.error && result.response.status === 422) {
          // The API names refused rows by their index in the batch: say which lines of the file they are.
          const problem = result.error as Partial<Problem> | undefined;
          for (const e of problem?.errors ?? []) {
            const index = Number(/^\/(\d+)\//.exec(e.pointer ?? '')?.[1]);
            if (Number.isInteger(index) && batch[index])
              out.note(`line ${batch[index].line}: ${batch[index].phone_number}: ${e.message}`);
          }
          if (start > 0) out.note(`The rows before line ${batch[0]!.line} were imported.`);
        }
        const taken = unwrap(result);
        total.received += taken.received;
        total.added += taken.added;
        total.already_listed += taken.already_listed;
        if (!out.json) out.note(`${Math.min(start + BULK_MAX, rows.length)} of ${rows.length} rows sent`);
      }
      out.result(total, () =>
        out.line(`${total.added} added, ${total.already_listed} already listed, of ${total.received} rows.`),
      );
    },
  },
};
