/**
 * The recordings of a real Asterisk 22.10.1 (copied byte for byte from shared/ari-traces into
 * asterisk/sim/traces, gzipped so formatters leave them alone).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TRACES_DIR = join(import.meta.dir, '..', 'traces');

export interface TraceEntry {
  t_ms: number;
  kind: 'http' | 'ws';
  method: string;
  path: string | null;
  status: number | null;
  body: unknown;
  socket?: string;
  latency_ms?: number;
  connect_ms?: number;
  content_type?: string | null;
  request_body?: unknown;
  request_auth?: string;
  www_authenticate?: string | null;
  error?: string;
  /** GET /recordings/stored/{name}/file only: what the recorder kept of the answer (IVR.md). */
  response_headers?: Record<string, string>;
  body_bytes?: number;
  body_magic?: string;
}

export interface IndexEntry {
  name: string;
  description: string;
  entries: number;
  style?: string;
  outcome?: number;
  request?: Record<string, string>;
}

const readGz = (file: string): unknown =>
  JSON.parse(new TextDecoder().decode(Bun.gunzipSync(readFileSync(join(TRACES_DIR, file)))));

/**
 * Requests the recorder sent on seeing the event its log has just before their answer, though
 * `t_ms - latency_ms` (two rounded numbers) reads a millisecond before that event: scenario →
 * the requests' recorded `t_ms`, which is also when they left. The replay waits for the event
 * before sending them, and timedDelays does not time the event from them.
 * 59: the pause of an unknown playback followed PlaybackFinished of the beep (441 ms after its
 * PlaybackStarted); timed from the request, that event would read 1 ms, and the replay's request
 * and the simulator's end of the beep, due in the same real millisecond, would race.
 * 57: the last continue followed the channel's ChannelDestroyed (both at 1951 ms, 936 ms after the
 * dialplan took it back); sent at 1951 ms without waiting, it races the simulator's hang-up and can
 * find the channel still there (409 instead of the recorded 404) when the machine is busy.
 */
export const SENT_AFTER_EVENT: Record<string, number[]> = {
  '57-ivr-continue-to-dialplan': [1952],
  '59-ivr-error-responses': [18715],
};

/** When the recorder sent an HTTP request, in the recording's milliseconds. */
export const sentAt = (e: TraceEntry, sentAfterEvent: readonly number[] = []): number =>
  sentAfterEvent.includes(e.t_ms) ? e.t_ms : e.t_ms - (e.latency_ms ?? 0);

export const loadTrace = (name: string): TraceEntry[] => readGz(`${name}.json.gz`) as TraceEntry[];

export const loadIndex = (): IndexEntry[] => readGz('index.json.gz') as IndexEntry[];

export const scenarioNames = (): string[] =>
  readdirSync(TRACES_DIR)
    .filter((f) => f.endsWith('.json.gz') && f !== 'index.json.gz')
    .map((f) => f.slice(0, -'.json.gz'.length))
    .sort();

export interface AriEvent {
  type: string;
  [key: string]: unknown;
}

export const isEvent = (e: TraceEntry): e is TraceEntry & { body: AriEvent; socket: string } =>
  e.kind === 'ws' && e.method === 'EVENT';
