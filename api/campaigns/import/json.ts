import { ApiError } from '../../errors.ts';

/** The longest one element of a JSON import may be: a contact is far smaller. */
const MAX_ELEMENT_CHARS = 64 * 1024;

const malformed = (detail: string) =>
  new ApiError('malformed_request', `The request body is not a JSON array of contacts: ${detail}`);

type Phase = 'start' | 'first' | 'next' | 'element' | 'end';

const isSpace = (ch: string) => ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t';

/**
 * The elements of a JSON array read from text chunks, each parsed on its own as its closing comma or
 * bracket arrives, so a body of a million contacts is never held whole. Anything that is not one JSON
 * array (another value, a bad element, text after the closing bracket) is a 400.
 */
export async function* jsonArrayElements(chunks: AsyncIterable<string>): AsyncGenerator<unknown> {
  let phase = 'start' as Phase;
  let parts: string[] = [];
  let size = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let index = 0;

  const finish = (text: string): unknown => {
    index++;
    try {
      return JSON.parse(text);
    } catch {
      throw malformed(`element ${index} is not valid JSON`);
    }
  };

  for await (const chunk of chunks) {
    let start = phase === 'element' ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (phase === 'element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (ch === '\\') escaped = true;
          else if (ch === '"') inString = false;
          continue;
        }
        if (ch === '"') inString = true;
        else if (ch === '{' || ch === '[') depth++;
        else if (ch === '}' || ch === ']') {
          if (depth > 0) depth--;
          else {
            parts.push(chunk.slice(start, i));
            yield finish(parts.join(''));
            parts = [];
            size = 0;
            phase = 'end';
          }
        } else if (ch === ',' && depth === 0) {
          parts.push(chunk.slice(start, i));
          yield finish(parts.join(''));
          parts = [];
          size = 0;
          phase = 'next';
        }
        continue;
      }
      if (isSpace(ch)) continue;
      if (phase === 'start') {
        if (ch !== '[') throw malformed('it does not start with [');
        phase = 'first';
      } else if (phase === 'end') {
        throw malformed('there is more after the closing ]');
      } else if (ch === ']' && phase === 'first') {
        phase = 'end';
      } else if (ch === ']' || ch === ',') {
        throw malformed(
          `a value is missing before the ${ch === ']' ? 'closing ]' : 'comma'} after element ${index}`,
        );
      } else {
        phase = 'element';
        start = i;
        depth = 0;
        inString = false;
        escaped = false;
        // The character itself opens the element: read it again as part of it.
        i--;
      }
    }
    if (phase === 'element') {
      const piece = chunk.slice(Math.max(start, 0));
      size += piece.length;
      if (size > MAX_ELEMENT_CHARS) throw malformed(`element ${index + 1} is longer than 64 KiB`);
      parts.push(piece);
    }
  }
  const last: Phase = phase;
  if (last === 'start') throw malformed('the body is empty');
  if (last !== 'end') throw malformed('it ends before its closing ]');
}
