/**
 * How results are written: a plain table or `key: value` lines for people, the API's own JSON with
 * --json for programs. Progress and notes go to stderr so that stdout stays the result alone.
 */
export interface Output {
  readonly json: boolean;
  /** The result as JSON (with --json) or through `human`. */
  result(data: unknown, human: () => void): void;
  line(text?: string): void;
  /** A note for the person (stderr): never part of the result. */
  note(text: string): void;
  table<T>(rows: readonly T[], columns: readonly Column<T>[]): void;
  record(fields: readonly [string, unknown][]): void;
}

export type Column<T> = [header: string, value: (row: T) => unknown];

export function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.map(cell).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  // One row stays one line: a value with a line break or tab is shown escaped.
  return String(value).replace(/[\r\n\t]/g, (c) => JSON.stringify(c).slice(1, -1));
}

export function createOutput(json: boolean, stdout = process.stdout, stderr = process.stderr): Output {
  const write = (text: string) => stdout.write(`${text}\n`);
  return {
    json,
    result(data, human) {
      if (json) write(JSON.stringify(data, null, 2));
      else human();
    },
    line: (text = '') => write(text),
    note: (text) => stderr.write(`${text}\n`),
    table(rows, columns) {
      if (rows.length === 0) {
        write('(none)');
        return;
      }
      const cells = rows.map((row) => columns.map(([, value]) => cell(value(row))));
      const widths = columns.map(([header], i) => Math.max(header.length, ...cells.map((r) => r[i]!.length)));
      const format = (r: string[]) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd();
      write(format(columns.map(([header]) => header.toUpperCase())));
      for (const r of cells) write(format(r));
    },
    record(fields) {
      const width = Math.max(...fields.map(([name]) => name.length));
      for (const [name, value] of fields) write(`${`${name}:`.padEnd(width + 1)}  ${cell(value)}`);
    },
  };
}
