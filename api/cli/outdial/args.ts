import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import type { OutdialClient } from '../../client/index.ts';
import type { Output } from './output.ts';

/** A command line that cannot be run as written: exit 2, with the command's usage. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly isUsageError = true;
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
  }
}

export function isUsageError(error: unknown): error is UsageError {
  return typeof error === 'object' && error !== null && 'isUsageError' in error;
}

/** Something went wrong that is not the command line's fault nor an API problem: exit 1 with the message. */
export class Failure extends Error {
  override name = 'Failure';
  readonly isFailure = true;
}

export function isFailure(error: unknown): error is Failure {
  return typeof error === 'object' && error !== null && 'isFailure' in error;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

/** What a command gets: its parsed line, where to write, and the API (built on first use). */
export interface CommandInput {
  values: Values;
  args: string[];
  out: Output;
  api(): OutdialClient;
}

/** One leaf command, e.g. `calls place`: its usage text, options and positional arguments. */
export interface Command {
  /** `NUMBER [--follow]`: what follows the command's name in the usage line. */
  synopsis: string;
  summary: string;
  /** Option lines for --help (the common --json and --help are added). */
  options?: string;
  parse?: ParseArgsOptionsConfig;
  /** Names of the positional arguments that must be given, in order. */
  args?: string[];
  run(input: CommandInput): Promise<void>;
}

export type CommandGroup = Record<string, Command>;

const COMMON: ParseArgsOptionsConfig = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Text folded at word boundaries to fit a terminal. */
function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

const firstSentence = (text: string) => /^.*?\.(?=\s|$)/.exec(text)?.[0] ?? text;

export function usageOf(path: string, command: Command): string {
  const lines = [
    `Usage: outdial ${path}${command.synopsis ? ` ${command.synopsis}` : ''}`,
    '',
    wrap(command.summary),
  ];
  lines.push('', 'Options:');
  if (command.options) lines.push(command.options.replace(/\n+$/, ''));
  lines.push(
    '  --json                 print the API’s JSON instead of a table',
    '  -h, --help             this text',
  );
  return lines.join('\n');
}

export function groupUsage(group: string, commands: CommandGroup): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    `Usage: outdial ${group} <command> [options]`,
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${firstSentence(c.summary)}`),
    '',
    `outdial ${group} <command> --help shows a command's options.`,
  ].join('\n');
}

/** Parses a command's own part of the line; a bad option or a missing argument is a UsageError. */
export function parseCommandLine(
  path: string,
  command: Command,
  argv: string[],
): { values: Values; args: string[]; help: boolean } {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...COMMON, ...(command.parse ?? {}) },
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), usageOf(path, command));
  }
  const help = parsed.values.help === true;
  const wanted = command.args ?? [];
  if (!help) {
    if (parsed.positionals.length < wanted.length) {
      throw new UsageError(`missing ${wanted[parsed.positionals.length]}`, usageOf(path, command));
    }
    if (parsed.positionals.length > wanted.length) {
      throw new UsageError(
        `unexpected argument "${parsed.positionals[wanted.length]}"`,
        usageOf(path, command),
      );
    }
  }
  return { values: parsed.values, args: parsed.positionals, help };
}

/** A string option, or undefined. */
export const text = (values: Values, name: string): string | undefined => {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
};

/** A repeatable option, each value also split on commas. */
export const list = (values: Values, name: string): string[] => {
  const v = values[name];
  const all = Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  return all
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
};

/** A whole number option within bounds, or undefined. */
export function integer(values: Values, name: string, min: number, max: number): number | undefined {
  const v = text(values, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(v);
}
