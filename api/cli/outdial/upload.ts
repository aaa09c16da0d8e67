import { statSync } from 'node:fs';
import { UsageError } from './args.ts';
import type { Output } from './output.ts';

/** Bytes read from the file per chunk handed to the request body. */
const CHUNK = 64 * 1024;

export function fileSize(path: string, what: string): number {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new UsageError(`${what}: ${path} is not a file`);
    return stat.size;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}

/**
 * Progress of an upload on stderr: at a terminal one line rewritten in place; otherwise (a log, a
 * pipe) a line at each tenth of the file, so that a log shows it moving without filling up.
 */
export function uploadProgress(out: Output, total: number, tty = process.stderr.isTTY === true) {
  let shownTenth = -1;
  const say = (sent: number) =>
    `sent ${sent} of ${total} bytes (${total === 0 ? 100 : Math.floor((sent * 100) / total)}%)`;
  return {
    update(sent: number) {
      if (tty) {
        process.stderr.write(`\r${say(sent)}`);
        return;
      }
      const tenth = total === 0 ? 10 : Math.floor((sent * 10) / total);
      if (tenth > shownTenth) {
        shownTenth = tenth;
        out.note(say(sent));
      }
    },
    done(sent: number) {
      if (tty) process.stderr.write(`\r${say(sent)}\n`);
      else if (shownTenth < 10) out.note(say(sent));
      out.note('waiting for the server to finish the import…');
    },
  };
}

/**
 * The file as a request body read chunk by chunk as the request pulls it, so what has been read is
 * what the connection has taken: `onRead` sees the running count.
 */
export function fileBody(path: string, onRead: (sent: number) => void): ReadableStream<Uint8Array> {
  const file = Bun.file(path);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = new Uint8Array(await file.slice(offset, offset + CHUNK).arrayBuffer());
      if (chunk.byteLength === 0) {
        controller.close();
        return;
      }
      offset += chunk.byteLength;
      controller.enqueue(chunk);
      onRead(offset);
    },
  });
}
