import { CsvError, parse } from 'csv-parse/browser/esm/sync';
import { ApiError } from '../../errors.ts';

/**
 * The records of a CSV body read from text chunks, each as its fields, never holding more than a
 * piece of the body: the text is cut after a line end that lies outside quotes (RFC 4180 quotes come
 * in pairs, "" inside a field included, so an even count of quotes so far means none is open), and
 * each piece is parsed by csv-parse on its own. csv-parse's browser build needs no node: module, so
 * this runs on Workers too. Ragged rows come out as they are (the caller rejects them by their
 * length); quoting the parser cannot read is a 400 for the whole body, since after it no row's
 * bounds are known.
 */

/** A piece is parsed once this much text up to a line end has arrived. */
const PIECE_CHARS = 256 * 1024;
/** A record (or an unclosed quote) longer than this is refused rather than buffered. */
const MAX_RECORD_CHARS = 1024 * 1024;

const CSV_OPTIONS = {
  bom: true,
  relax_column_count: true,
  skip_empty_lines: true,
} as const;

const QUOTE_PROBLEMS: Record<string, string> = {
  CSV_INVALID_CLOSING_QUOTE: 'a closing quote is followed by something other than a comma or a line end',
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed',
  CSV_INVALID_OPENING_QUOTE: 'a quote opens in the middle of a field',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'a closing quote is followed by other characters',
};

function malformed(row: number, detail: string): ApiError {
  return new ApiError('malformed_request', `The CSV cannot be read at row ${row}: ${detail}`);
}

/** Records (header first) with their 0-based index: 0 is the header, 1 the first row after it. */
export async function* csvRecords(chunks: AsyncIterable<string>): AsyncGenerator<string[]> {
  let pending = '';
  let scanned = 0;
  let inQuote = false;
  let cut = 0;
  let records = 0;

  function* parsePiece(text: string): Generator<string[]> {
    let rows: string[][];
    try {
      rows = parse(text, CSV_OPTIONS) as string[][];
    } catch (error) {
      if (error instanceof CsvError) {
        const at = records + ((error as { records?: number }).records ?? 0);
        throw malformed(at, QUOTE_PROBLEMS[error.code] ?? 'its quoting is not valid CSV');
      }
      throw error;
    }
    for (const row of rows) {
      records++;
      yield row;
    }
  }

  for await (const chunk of chunks) {
    pending += chunk;
    for (let i = scanned; i < pending.length; i++) {
      const ch = pending.charCodeAt(i);
      if (ch === 34) inQuote = !inQuote;
      else if (ch === 10 && !inQuote) cut = i + 1;
    }
    scanned = pending.length;
    if (cut >= PIECE_CHARS) {
      const piece = pending.slice(0, cut);
      pending = pending.slice(cut);
      scanned = pending.length;
      cut = 0;
      yield* parsePiece(piece);
    } else if (pending.length - cut > MAX_RECORD_CHARS) {
      throw malformed(records, 'a row is longer than 1 MiB, or a quote opened there is never closed');
    }
  }
  if (pending.length > 0) yield* parsePiece(pending);
}
