import { and, asc, eq, sql } from 'drizzle-orm';
import { callRecordings } from '../schema.ts';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

export type CallRecordingRow = typeof callRecordings.$inferSelect;

/**
 * The recording a step_finished event of alias `e` reported, in SQL. Some drivers store a jsonb value
 * as a JSON string holding the document (bun's client does): such a value is unwrapped first.
 */
export function recordingOfEvent(alias: string) {
  const flow = sql.raw(`${alias}.flow`);
  return sql`(case jsonb_typeof(${flow}) when 'string' then (${flow} #>> '{}')::jsonb else ${flow} end)->'answer'->'value'->>'recording'`;
}

/** A call's recordings, by answer name. */
export async function listCallRecordings(db: Db, callId: string): Promise<CallRecordingRow[]> {
  return db
    .select()
    .from(callRecordings)
    .where(eq(callRecordings.callId, callId))
    .orderBy(asc(callRecordings.recordedAt), asc(callRecordings.name));
}

export async function getCallRecording(
  db: Db,
  callId: string,
  name: string,
): Promise<CallRecordingRow | null> {
  const rows = await db
    .select()
    .from(callRecordings)
    .where(and(eq(callRecordings.callId, callId), eq(callRecordings.name, name)));
  return rows[0] ?? null;
}

/**
 * Every recording the calls' flows reported, by call: those listed and those a later answer of the
 * same name replaced (still stored on the PBX until deleted), with the sidecar that holds them.
 */
export async function recordingsOfCalls(
  db: Db,
  callIds: string[],
): Promise<Map<string, { sidecarId: string | null; recordings: string[] }>> {
  const out = new Map<string, { sidecarId: string | null; recordings: string[] }>();
  if (callIds.length === 0) return out;
  const ids = sql.join(
    callIds.map((id) => sql`${id}::uuid`),
    sql`, `,
  );
  const rows = rowsOf<{ call_id: string; recording: string; sidecar_id: string | null }>(
    await db.execute(sql`
      select e.call_id, ${recordingOfEvent('e')} as recording, c.sidecar_id
        from call_events e join calls c on c.id = e.call_id
       where e.call_id in (${ids}) and e.type = 'step_finished'
         and ${recordingOfEvent('e')} is not null
      union
      select r.call_id, r.recording, coalesce(r.sidecar_id, c.sidecar_id)
        from call_recordings r join calls c on c.id = r.call_id
       where r.call_id in (${ids})`),
  );
  for (const row of rows) {
    const entry = out.get(row.call_id) ?? { sidecarId: row.sidecar_id, recordings: [] };
    if (!entry.recordings.includes(row.recording)) entry.recordings.push(row.recording);
    out.set(row.call_id, entry);
  }
  return out;
}
