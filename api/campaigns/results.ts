import type { ContactResult } from '../../db/queries/campaign-contacts.ts';

/**
 * A campaign's results as rows, with no I/O: one per contact, its attempts side by side (call id,
 * outcome, start and end) and the answers of its last answered call's flow. The header is fixed
 * before the first row from the campaign's shape (most attempts, every answer name).
 */

export interface ResultsShape {
  maxAttempts: number;
  answerNames: string[];
}

/** A row of the JSON export. */
export interface ResultRecord {
  phone_number: string;
  state: string;
  attempts: number;
  final_outcome: string | null;
  answered_by: string | null;
  calls: {
    attempt: number;
    call_id: string;
    outcome: string | null;
    started_at: string;
    ended_at: string | null;
  }[];
  answers: Record<string, unknown>;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The answers of the contact's last attempt whose call was answered (none: {}). */
function lastAnswers(result: ContactResult): Record<string, unknown> {
  for (let i = result.attempts.length - 1; i >= 0; i--) {
    const a = result.attempts[i]!;
    if (a.answeredAt) return a.answers ?? {};
  }
  return {};
}

export function resultRecord(result: ContactResult): ResultRecord {
  const { contact } = result;
  return {
    phone_number: contact.phoneNumber,
    state: contact.state,
    attempts: contact.attempts,
    final_outcome: contact.finalOutcome,
    answered_by: contact.answeredBy,
    calls: result.attempts.map((a) => ({
      attempt: a.attempt,
      call_id: a.callId,
      outcome: a.outcome,
      started_at: a.startedAt.toISOString(),
      ended_at: iso(a.endedAt),
    })),
    answers: lastAnswers(result),
  };
}

/** A field as RFC 4180 writes it: quoted (quotes doubled) when it holds a quote, comma or line end. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

const line = (fields: string[]) => `${fields.map(csvField).join(',')}\r\n`;

export function csvHeader(shape: ResultsShape): string {
  const fields = ['phone_number', 'state', 'attempts', 'final_outcome', 'answered_by'];
  for (let n = 1; n <= shape.maxAttempts; n++) {
    fields.push(
      `attempt_${n}_call_id`,
      `attempt_${n}_outcome`,
      `attempt_${n}_started_at`,
      `attempt_${n}_ended_at`,
    );
  }
  for (const name of shape.answerNames) fields.push(`answer_${name}`);
  return line(fields);
}

/** An answer as one CSV cell: text as it is, a recording by its name. */
function answerCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && 'recording' in value)
    return String((value as { recording: unknown }).recording);
  return JSON.stringify(value);
}

/** A contact's CSV row; attempts beyond the header's (made since it was written) are left out. */
export function csvRow(result: ContactResult, shape: ResultsShape): string {
  const record = resultRecord(result);
  const fields = [
    record.phone_number,
    record.state,
    String(record.attempts),
    record.final_outcome ?? '',
    record.answered_by ?? '',
  ];
  for (let n = 0; n < shape.maxAttempts; n++) {
    const call = record.calls[n];
    fields.push(call?.call_id ?? '', call?.outcome ?? '', call?.started_at ?? '', call?.ended_at ?? '');
  }
  for (const name of shape.answerNames) fields.push(answerCell(record.answers[name]));
  return line(fields);
}
