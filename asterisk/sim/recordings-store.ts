/**
 * Stored recordings: /recordings/stored (list, GET, DELETE, copy, file), as in 49-ivr-record-*.
 * A recording keeps the frames it received, so `recording:<name>` plays for as long and its
 * file is a real WAV of that length (8 kHz, 16-bit, mono: a tone for speech, zeros for quiet).
 */
import { fail, type Reply } from './reply.ts';
import type { Sound } from './sounds.ts';

export interface StoredRecording {
  readonly name: string;
  readonly format: string;
  readonly sound: Sound;
}

const RATE = 8000;

/** A RIFF/WAVE file, 44-byte header plus 16 bytes per millisecond (49: 1.42 s → 22,764 bytes). */
export const wavFile = (sound: Sound): Uint8Array<ArrayBuffer> => {
  const samples = Math.round((sound.ms * RATE) / 1000);
  const bytes = new Uint8Array(44 + samples * 2);
  const view = new DataView(bytes.buffer);
  const ascii = (at: number, text: string) => {
    for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + samples * 2, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, RATE, true);
  view.setUint32(28, RATE * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, samples * 2, true);
  for (const [from, to] of sound.speech) {
    const end = Math.min(samples, Math.round((to * RATE) / 1000));
    for (let i = Math.round((from * RATE) / 1000); i < end; i++) {
      view.setInt16(44 + i * 2, Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / RATE)), true);
    }
  }
  return bytes;
};

const NOT_FOUND = fail(404, 'Recording not found');

export class StoredRecordings {
  private readonly byName = new Map<string, StoredRecording>();

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): StoredRecording | undefined {
    return this.byName.get(name);
  }

  put(rec: StoredRecording): void {
    this.byName.set(rec.name, rec);
  }

  clear(): void {
    this.byName.clear();
  }

  /** GET /recordings/stored: sorted by name (49-ivr-record-limits-stop-cancel). */
  list(): Reply {
    const names = [...this.byName.keys()].sort();
    return { status: 200, body: names.map((n) => this.json(this.byName.get(n) as StoredRecording)) };
  }

  private json(rec: StoredRecording) {
    return { name: rec.name, format: rec.format };
  }

  show(name: string): Reply {
    const rec = this.byName.get(name);
    return rec ? { status: 200, body: this.json(rec) } : NOT_FOUND;
  }

  remove(name: string): Reply {
    return this.byName.delete(name) ? { status: 204 } : NOT_FOUND;
  }

  copy(name: string, destination: string | null): Reply {
    const rec = this.byName.get(name);
    if (!rec) return NOT_FOUND;
    if (!destination) return fail(400, 'Missing destinationRecordingName');
    if (this.byName.has(destination)) {
      return fail(409, 'A recording with the same name already exists on the system');
    }
    const copy = { ...rec, name: destination };
    this.byName.set(destination, copy);
    return { status: 200, body: this.json(copy) };
  }

  /** GET …/file: the audio, or a JSON 404 (49). */
  file(name: string): Response {
    const rec = this.byName.get(name);
    if (!rec) {
      const headers = { 'Content-Type': 'application/json' };
      return new Response(JSON.stringify(NOT_FOUND.body), { status: 404, headers });
    }
    return new Response(wavFile(rec.sound), { status: 200, headers: { 'Content-Type': 'audio/wav' } });
  }
}
