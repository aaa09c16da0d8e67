/** Questions at a terminal, for the CLIs (user:create, outdial login). */

/** Ctrl-C pressed at a question. */
export class PromptInterrupted extends Error {
  override name = 'PromptInterrupted';
  constructor() {
    super('interrupted');
  }
}

/** Asks on stdout and reads one line. */
export async function prompt(question: string): Promise<string> {
  process.stdout.write(question);
  for await (const line of console) return line.trim();
  return '';
}

/** Reads a line from the terminal without echoing it. */
export async function promptSecret(question: string): Promise<string> {
  process.stdout.write(question);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  let value = '';
  try {
    for await (const chunk of stdin) {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return value;
        if (ch === '\u0003') throw new PromptInterrupted();
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    }
    return value;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stdout.write('\n');
  }
}

/** The first line of standard input (a password piped in). */
export async function readStdinLine(): Promise<string> {
  const text = await Bun.stdin.text();
  return text.split(/\r?\n/)[0] ?? '';
}
