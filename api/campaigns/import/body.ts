import { ApiError } from '../../errors.ts';

/**
 * A request body as UTF-8 text, chunk by chunk as it arrives, never more than one chunk held: a body
 * past `maxBytes` is a 413 the moment it passes, bytes that are not UTF-8 a 400, a body that breaks
 * off (the client went away) a 400 too, so the import that reads it ends and keeps nothing.
 */
export async function* bodyText(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  /** The Content-Length announced, if any: a body that ends short of it broke off. */
  announced?: number,
) {
  if (!body) return;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const reader = body.getReader();
  let bytes = 0;
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new ApiError('malformed_request', 'The request body broke off before its end', {
          cause: error,
        });
      }
      if (chunk.done) {
        // Some proxies end a body whose client went away as if it were complete: the length tells.
        if (announced !== undefined && bytes !== announced) {
          throw new ApiError('malformed_request', 'The request body broke off before its end');
        }
        break;
      }
      bytes += chunk.value.byteLength;
      if (bytes > maxBytes) throw tooLarge(maxBytes);
      const text = decode(decoder, chunk.value, true);
      if (text) yield text;
    }
    const rest = decode(decoder, undefined, false);
    if (rest) yield rest;
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

function decode(decoder: TextDecoder, bytes: Uint8Array | undefined, stream: boolean): string {
  try {
    return decoder.decode(bytes, { stream });
  } catch {
    throw new ApiError('malformed_request', 'The request body is not UTF-8 text');
  }
}

/** The 413 of an import past its byte cap. */
export function tooLarge(maxBytes: number): ApiError {
  return new ApiError(
    'payload_too_large',
    `The import is larger than ${maxBytes} bytes (CONTACTS_IMPORT_MAX_BYTES); nothing was imported`,
  );
}
