import { readFileSync } from 'node:fs';
import { UsageError } from './args.ts';

/** A JSON document from a file (or `-` for standard input) for a create command. */
export async function readJsonFile(path: string | undefined, option = '--file'): Promise<unknown> {
  if (!path) throw new UsageError(`give ${option} FILE.json`);
  let text: string;
  try {
    text = path === '-' ? await Bun.stdin.text() : readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${option}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `${option}: ${path} is not JSON (${error instanceof Error ? error.message : error})`,
    );
  }
}
