#!/usr/bin/env bun
/**
 * `outdial`: the operator's command line. It talks to a running Outdial server through its API with
 * a stored API key (`outdial login`), never by opening the database. Exit codes: 0 done, 1 the API
 * (or the network) refused, 2 the command line was wrong.
 */
import { createOutdialClient, isOutdialError, type OutdialError } from '../client/index.ts';
import {
  type Command,
  type CommandGroup,
  groupUsage,
  isFailure,
  isUsageError,
  parseCommandLine,
  usageOf,
} from './outdial/args.ts';
import { authCommands } from './outdial/auth.ts';
import { callCommands } from './outdial/calls.ts';
import { campaignCommands } from './outdial/campaigns.ts';
import { resolveCredentials } from './outdial/config.ts';
import { dncCommands } from './outdial/dnc.ts';
import { flowCommands } from './outdial/flows.ts';
import { keyCommands } from './outdial/keys.ts';
import { createOutput } from './outdial/output.ts';
import { userCommands } from './outdial/users.ts';
import { PromptInterrupted } from './prompt.ts';

const GROUPS: Record<string, { summary: string; commands: CommandGroup }> = {
  users: { summary: 'list, create, disable (admins)', commands: userCommands },
  keys: { summary: 'list, create, revoke API keys', commands: keyCommands },
  flows: { summary: 'list, show, create', commands: flowCommands },
  campaigns: {
    summary: 'list, show, create, import contacts, start, pause, resume, cancel, results',
    commands: campaignCommands,
  },
  calls: { summary: 'list, show, follow, place, hang up', commands: callCommands },
  dnc: { summary: 'list, check, add, remove, import the do-not-call list', commands: dncCommands },
};

const USAGE = `Usage: outdial <command> [options]

Commands:
  login                  log in to a server and store an API key for this machine
  logout                 revoke that key and forget it
${Object.entries(GROUPS)
  .map(([name, g]) => `  ${name.padEnd(22)} ${g.summary}`)
  .join('\n')}

outdial <command> --help shows a command's options; --json prints the API's JSON.
The server and key come from outdial login's file, or OUTDIAL_URL and OUTDIAL_API_KEY.
Exit codes: 0 done, 1 the API refused (its problem is printed), 2 a usage error.`;

const isHelp = (word: string | undefined) => word === '--help' || word === '-h' || word === 'help';

/** The command a line names, its path for messages, and the words left for it. */
function findCommand(
  argv: string[],
): { path: string; command: Command; rest: string[] } | { usage: string; error?: string } {
  const [first, second, ...rest] = argv;
  if (first === undefined) return { usage: USAGE, error: 'no command given' };
  if (isHelp(first)) return { usage: USAGE };
  const leaf = authCommands[first];
  if (leaf) return { path: first, command: leaf, rest: argv.slice(1) };
  const group = GROUPS[first];
  if (!group) return { usage: USAGE, error: `unknown command "${first}"` };
  const usage = groupUsage(first, group.commands);
  if (second === undefined) return { usage, error: `${first}: no command given` };
  if (isHelp(second)) return { usage };
  const command = group.commands[second];
  if (!command) return { usage, error: `unknown command "${first} ${second}"` };
  return { path: `${first} ${second}`, command, rest };
}

function printProblem(error: OutdialError): void {
  const p = error.problem;
  const title = p?.title ?? 'Error';
  const detail = p?.detail && p.detail !== title ? `: ${p.detail}` : '';
  process.stderr.write(`error: ${error.status} ${title}${detail}\n`);
  for (const e of p?.errors ?? []) process.stderr.write(`  ${e.path}: ${e.message}\n`);
  if (error.status === 401) {
    process.stderr.write(
      'The server refused the API key (revoked, expired or not known there): run outdial login again.\n',
    );
  }
  if (p?.request_id) process.stderr.write(`(request ${p.request_id})\n`);
}

async function main(argv: string[]): Promise<number> {
  const found = findCommand(argv);
  if (!('command' in found)) {
    if (found.error) {
      process.stderr.write(`outdial: ${found.error}\n\n${found.usage}\n`);
      return 2;
    }
    process.stdout.write(`${found.usage}\n`);
    return 0;
  }
  const { path, command, rest } = found;
  const line = parseCommandLine(path, command, rest);
  if (line.help) {
    process.stdout.write(`${usageOf(path, command)}\n`);
    return 0;
  }
  const out = createOutput(line.values.json === true);
  let client: ReturnType<typeof createOutdialClient> | null = null;
  await command.run({
    values: line.values,
    args: line.args,
    out,
    api() {
      if (!client) {
        const { url, key } = resolveCredentials();
        client = createOutdialClient({ baseUrl: url, token: key });
      }
      return client;
    },
  });
  return 0;
}

/** The exit code for what went wrong, its message written; null for an error that is a bug. */
function reportError(error: unknown): number | null {
  if (isUsageError(error)) {
    process.stderr.write(`outdial: ${error.message}\n${error.usage ? `\n${error.usage}\n` : ''}`);
    return 2;
  }
  if (error instanceof PromptInterrupted) {
    process.stderr.write('outdial: interrupted\n');
    return 2;
  }
  if (isFailure(error)) {
    process.stderr.write(`error: ${error.message}\n`);
    return 1;
  }
  if (isOutdialError(error)) {
    printProblem(error);
    return 1;
  }
  if (
    error instanceof TypeError &&
    /fetch|connect|socket|ECONNREFUSED|Unable to connect/i.test(
      error.message + String((error as { code?: string }).code ?? ''),
    )
  ) {
    process.stderr.write(`error: cannot reach the server: ${error.message}\n`);
    return 1;
  }
  return null;
}

/** Waits until what was written to a pipe has left, which process.exit would otherwise cut short. */
const drained = (stream: NodeJS.WriteStream) =>
  new Promise<void>((resolve) => stream.write('', () => resolve()));

let code: number;
try {
  code = await main(process.argv.slice(2));
} catch (error) {
  const known = reportError(error);
  if (known === null) throw error;
  code = known;
}
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);
