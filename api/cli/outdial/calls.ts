import {
  type Call,
  type CallEvent,
  type CreateCallRequest,
  followCall,
  type OutdialClient,
  unwrap,
} from '../../client/index.ts';
import { CALL_STATUSES, type CallStatus } from '../../shared/contract/index.ts';
import { type CommandGroup, type CommandInput, Failure, integer, text, UsageError } from './args.ts';
import type { Column, Output } from './output.ts';
import { listPages, noteMore, PAGING_OPTIONS, PAGING_PARSE } from './paging.ts';

const CALL_COLUMNS: Column<Call>[] = [
  ['id', (c) => c.call_id],
  ['number', (c) => c.phone_number],
  ['status', (c) => c.status],
  ['reason', (c) => c.reason],
  ['created', (c) => c.created_at],
  ['duration', (c) => (c.duration === null ? null : `${c.duration}s`)],
];

function eventLine(e: CallEvent): string {
  const why = [e.reason, e.hangup_cause === null ? null : `cause ${e.hangup_cause}`, e.dial_status]
    .filter(Boolean)
    .join(', ');
  return `${String(e.sequence).padStart(3)}  ${e.time}  ${e.type.padEnd(18)} ${e.status}${why ? ` (${why})` : ''}`;
}

/** Follows and prints: event lines as they come, then the call (or one JSON document with --json). */
async function followAndPrint(api: OutdialClient, out: Output, callId: string): Promise<void> {
  const events: CallEvent[] = [];
  const call = await followCall(api, callId, {
    onEvent: (e) => {
      events.push(e);
      if (!out.json) out.line(eventLine(e));
    },
  });
  out.result({ call, events }, () =>
    out.line(`Call ${call.call_id} ended ${call.status}${call.reason ? ` (${call.reason})` : ''}.`),
  );
}

function variables(values: CommandInput['values']): Record<string, string> | undefined {
  const pairs = Array.isArray(values.var) ? values.var : [];
  if (pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new UsageError(`--var must be NAME=VALUE, not "${pair}"`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

export const callCommands: CommandGroup = {
  list: {
    synopsis: '[--status STATUS] [--number NUMBER] [--limit N] [--cursor C] [--all]',
    summary: 'List calls you may read, newest first.',
    options: [
      `  --status STATUS        only ${CALL_STATUSES.join(', ')}`,
      '  --number NUMBER        only calls to this number',
      PAGING_OPTIONS,
    ].join('\n'),
    parse: { ...PAGING_PARSE, status: { type: 'string' }, number: { type: 'string' } },
    async run({ values, out, api }) {
      const status = text(values, 'status');
      if (status !== undefined && !(CALL_STATUSES as readonly string[]).includes(status)) {
        throw new UsageError(`--status must be one of ${CALL_STATUSES.join(', ')}`);
      }
      const number = text(values, 'number');
      const page = await listPages(values, (query) =>
        api().GET('/api/v2/calls', {
          params: {
            query: {
              ...query,
              ...(status ? { status: status as CallStatus } : {}),
              ...(number ? { phone_number: number } : {}),
            },
          },
        }),
      );
      out.result(page, () => out.table(page.items, CALL_COLUMNS));
      noteMore(out, page);
    },
  },
  show: {
    synopsis: 'CALL_ID',
    summary: 'Show a call and its event log.',
    args: ['CALL_ID'],
    async run({ args, out, api }) {
      const path = { call_id: args[0]! };
      const call = unwrap(await api().GET('/api/v2/calls/{call_id}', { params: { path } }));
      const log = unwrap(await api().GET('/api/v2/calls/{call_id}/events', { params: { path } }));
      out.result({ call, events: log.events }, () => {
        out.record(
          Object.entries(call).filter(([, v]) => (v !== null && typeof v !== 'object') || Array.isArray(v)),
        );
        if (Object.keys(call.variables ?? {}).length > 0) out.record([['variables', call.variables]]);
        out.line('events:');
        for (const e of log.events) out.line(eventLine(e));
      });
    },
  },
  follow: {
    synopsis: 'CALL_ID',
    summary:
      'Follow a call on the live event stream, printing each event, until its status is final (then exit 0). ' +
      'A dropped stream is resumed where it stopped.',
    args: ['CALL_ID'],
    async run({ args, out, api }) {
      await followAndPrint(api(), out, args[0]!);
    },
  },
  hangup: {
    synopsis: 'CALL_ID',
    summary:
      'Hang up a call, or cancel it while it rings. Prints the call as it is now; its final status follows ' +
      '(calls follow CALL_ID shows it).',
    args: ['CALL_ID'],
    async run({ args, out, api }) {
      const path = { call_id: args[0]! };
      const call = unwrap(await api().POST('/api/v2/calls/{call_id}/hangup', { params: { path } }));
      out.result(call, () => out.line(`Hang-up requested for call ${call.call_id}: ${call.status}.`));
    },
  },
  place: {
    synopsis: 'NUMBER [--caller-id ID] [--var NAME=VALUE]... [--flow-id ID] [--follow]',
    summary: 'Place a call to NUMBER (+ and digits). Prints the call; with --follow, follows it to its end.',
    options: [
      '  --caller-id ID         e.g. "Clinic <5550001111>"',
      '  --context CONTEXT      dialplan context for the answered call (an allowed one)',
      '  --extension EXT        its extension',
      '  --timeout MS           ring timeout in milliseconds',
      '  --var NAME=VALUE       a call variable, repeatable',
      '  --flow-id ID           run this stored flow after the answer (--flow-version N: that version)',
      '  --flow-version N',
      '  --sidecar ID           the sidecar (PBX) to dial through',
      '  --idempotency-key KEY  a retry with the same key places no second call',
      '  --follow               follow the call to its end, as `calls follow`',
    ].join('\n'),
    parse: {
      'caller-id': { type: 'string' },
      context: { type: 'string' },
      extension: { type: 'string' },
      timeout: { type: 'string' },
      var: { type: 'string', multiple: true },
      'flow-id': { type: 'string' },
      'flow-version': { type: 'string' },
      sidecar: { type: 'string' },
      'idempotency-key': { type: 'string' },
      follow: { type: 'boolean' },
    },
    args: ['NUMBER'],
    async run({ values, args, out, api }) {
      const body: CreateCallRequest = { phone_number: args[0]! };
      const set = <K extends keyof CreateCallRequest>(key: K, value: CreateCallRequest[K] | undefined) => {
        if (value !== undefined) body[key] = value;
      };
      set('caller_id', text(values, 'caller-id'));
      set('context', text(values, 'context'));
      set('extension', text(values, 'extension'));
      set('timeout', integer(values, 'timeout', 1, 86_400_000));
      set('variables', variables(values));
      set('flow_id', text(values, 'flow-id'));
      set('flow_version', integer(values, 'flow-version', 1, 1_000_000));
      set('sidecar_id', text(values, 'sidecar'));
      const key = text(values, 'idempotency-key');
      const placed = unwrap(
        await api().POST('/api/v2/calls', { body, ...(key ? { headers: { 'Idempotency-Key': key } } : {}) }),
      );
      if (values.follow === true && placed.success) {
        if (!out.json) out.line(`Call ${placed.call_id} to ${placed.phone_number}: ${placed.status}`);
        await followAndPrint(api(), out, placed.call_id);
        return;
      }
      out.result(placed, () =>
        out.line(
          `Call ${placed.call_id} to ${placed.phone_number}: ${placed.status}` +
            (placed.success ? '' : ` (${placed.reason ?? placed.error ?? 'refused'})`),
        ),
      );
      // Accepted but refused by the PBX: the answer is printed, and the exit code says it failed.
      if (!placed.success) throw new Failure(`the call was not placed: ${placed.error ?? placed.message}`);
    },
  },
};
