import { ApiError } from '../../errors.ts';
import {
  checkContact,
  checkJsonContact,
  MAX_CONTACT_VARIABLES,
  type RowCheck,
  VARIABLE_NAME_RULE,
  variableProblem,
} from './row.ts';

/**
 * An import's rows, whichever format it came in, each checked on its own: `row` is 1 for the first
 * contact (the element of a JSON array, or the record after a CSV's header).
 */
export interface ImportRow {
  row: number;
  check: RowCheck;
}

export async function* jsonContacts(
  elements: AsyncIterable<unknown>,
  region: string,
): AsyncGenerator<ImportRow> {
  let row = 0;
  for await (const element of elements) yield { row: ++row, check: checkJsonContact(element, region) };
}

function headerProblem(detail: string): ApiError {
  return new ApiError('validation_error', `body: the CSV header ${detail}`, {
    errors: [{ path: 'body', message: `the CSV header ${detail}`, code: 'invalid_header' }],
  });
}

/**
 * A CSV's header names its columns: `phone_number` (required), `timezone`, and any other is a variable
 * of that name. A header that cannot be read that way refuses the whole import (422).
 */
function readHeader(header: string[]) {
  const names = header.map((h) => h.trim());
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw headerProblem(`names the column "${name.slice(0, 64)}" twice`);
    seen.add(name);
  }
  const phone = names.indexOf('phone_number');
  if (phone < 0) throw headerProblem('has no phone_number column');
  const zone = names.indexOf('timezone');
  const variables = names.flatMap((name, i) => (i === phone || i === zone ? [] : [{ name, i }]));
  for (const { name } of variables) {
    if (variableProblem(name, '') !== null) {
      throw headerProblem(
        `names the column "${name.slice(0, 64)}", which is neither phone_number, timezone nor a variable name (${VARIABLE_NAME_RULE})`,
      );
    }
  }
  if (variables.length > MAX_CONTACT_VARIABLES) {
    throw headerProblem(
      `names ${variables.length} variables; a contact takes at most ${MAX_CONTACT_VARIABLES}`,
    );
  }
  return { width: names.length, phone, zone, variables };
}

export async function* csvContacts(
  records: AsyncIterable<string[]>,
  region: string,
): AsyncGenerator<ImportRow> {
  let header: ReturnType<typeof readHeader> | null = null;
  let row = 0;
  for await (const fields of records) {
    if (!header) {
      header = readHeader(fields);
      continue;
    }
    row++;
    if (fields.length !== header.width) {
      yield {
        row,
        check: {
          ok: false,
          reason: `has ${fields.length} field${fields.length === 1 ? '' : 's'}; the header has ${header.width}`,
        },
      };
      continue;
    }
    const variables: [string, unknown][] = [];
    // An empty cell is a variable this contact does not have.
    for (const v of header.variables) if (fields[v.i] !== '') variables.push([v.name, fields[v.i]]);
    const zone = header.zone < 0 ? undefined : fields[header.zone]!.trim();
    yield { row, check: checkContact(fields[header.phone], zone, variables, region) };
  }
  if (!header) throw headerProblem('is missing: the body is empty');
}
