/**
 * Plain values, no zod: the published client (api/client/) is built from this module and depends on
 * nothing but openapi-fetch. The schema is CallStatusSchema in events.ts.
 */

/**
 * Every status a call can have, in the order a call moves through them. The first four are active;
 * the last five are final, and a final status never changes again.
 */
export const CALL_STATUSES = [
  'pending',
  'dialing',
  'ringing',
  'answered',
  'completed',
  'busy',
  'no_answer',
  'failed',
  'canceled',
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** The statuses of a call that is still under way. */
export const ACTIVE_STATUSES = [
  'pending',
  'dialing',
  'ringing',
  'answered',
] as const satisfies readonly CallStatus[];

/** The final statuses. */
export const TERMINAL_STATUSES = [
  'completed',
  'busy',
  'no_answer',
  'failed',
  'canceled',
] as const satisfies readonly CallStatus[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** The final statuses of a call that did not complete: a reason in words goes with them. */
export const UNCOMPLETED_STATUSES = [
  'busy',
  'no_answer',
  'failed',
  'canceled',
] as const satisfies readonly TerminalStatus[];

/**
 * How far along a status is: a call only moves to a status of a higher rank, and every final status
 * shares the last rank (one final status never follows another).
 */
export const STATUS_RANK: Readonly<Record<CallStatus, number>> = {
  pending: 0,
  dialing: 1,
  ringing: 2,
  answered: 3,
  completed: 4,
  busy: 4,
  no_answer: 4,
  failed: 4,
  canceled: 4,
};

export function isTerminal(status: CallStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** Whether `value` names a call status (a query parameter, say). */
export function isCallStatus(value: string): value is CallStatus {
  return (CALL_STATUSES as readonly string[]).includes(value);
}
