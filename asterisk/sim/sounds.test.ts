import { describe, expect, test } from 'bun:test';
import { wavFile } from './recordings-store.ts';
import { resolveMedia, type Sound } from './sounds.ts';

const none = () => undefined;
const ms = (uri: string, recording: (name: string) => Sound | undefined = none) => {
  const m = resolveMedia(uri, recording);
  return m.kind === 'sound' ? m.sound.ms : m.kind;
};

describe('what a media URI plays', () => {
  test('the recorded lengths (43, 44, 45, 48, 58)', () => {
    expect(ms('sound:hello-world')).toBe(1420);
    expect(ms('sound:goodbye')).toBe(940);
    expect(ms('sound:beep')).toBe(440);
    expect(ms('sound:vm-enter-num-to-call')).toBe(2040);
    expect(ms('sound:hello')).toBe(800);
    expect(ms('sound:demo-congrats')).toBe(30_000);
    expect(ms('sound:silence/10')).toBe(10_000);
  });

  test('say digits, numbers and characters: one file per spoken item (45)', () => {
    expect(ms('digits:12')).toBe(1682);
    // Recorded 3.35 s: within 1 %.
    expect(Math.abs((ms('digits:1234') as number) - 3346) / 3346).toBeLessThan(0.01);
    expect(ms('number:7')).toBe(842);
    expect(ms('number:42')).toBe(1724);
    expect(ms('number:40')).toBe(882);
    expect(ms('characters:ab')).toBe(1384);
    // 1234: one thousand two hundred thirty four.
    expect(ms('number:1234')).toBe(5 * 842 + 882);
  });

  test('missing files fail, unknown schemes never finish, tones never end', () => {
    expect(ms('sound:does-not-exist')).toBe('missing');
    expect(ms('number:abc')).toBe('missing');
    expect(ms('digits:')).toBe('missing');
    expect(ms('bogus:thing')).toBe('unsupported');
    expect(ms('nocolon')).toBe('unsupported');
    expect(ms('recording:no-such-recording')).toBe('unsupported');
    expect(ms('tone:ring')).toBe('endless');
  });

  test('recording: plays a stored recording for as long as it is', () => {
    const stored: Sound = { ms: 1420, speech: [[0, 1420]] };
    expect(ms('recording:r1', (name) => (name === 'r1' ? stored : undefined))).toBe(1420);
  });
});

describe('recording files', () => {
  test('a RIFF/WAVE of 8 kHz 16-bit mono, 44 bytes of header plus 16 bytes a millisecond (49)', () => {
    const wav = wavFile({ ms: 1420, speech: [[0, 700]] });
    expect(wav.length).toBe(22764);
    const view = new DataView(wav.buffer);
    const ascii = (at: number) => String.fromCharCode(...wav.slice(at, at + 4));
    expect([ascii(0), ascii(8), ascii(12), ascii(36)]).toEqual(['RIFF', 'WAVE', 'fmt ', 'data']);
    expect(view.getUint32(4, true)).toBe(wav.length - 8);
    expect(view.getUint16(20, true)).toBe(1);
    expect(view.getUint16(22, true)).toBe(1);
    expect(view.getUint32(24, true)).toBe(8000);
    expect(view.getUint16(34, true)).toBe(16);
    expect(view.getUint32(40, true)).toBe(22720);
    // Speech is a tone, the rest silence.
    const sample = (ms: number) => view.getInt16(44 + ms * 16 + 2, true);
    expect(Math.abs(sample(100))).toBeGreaterThan(0);
    expect(sample(1000)).toBe(0);
  });
});
