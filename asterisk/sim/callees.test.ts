/**
 * The simulator's callees by number in `sim-callee` (README.md), driven over HTTP and the events
 * socket as the sidecar drives them. Delays are read from the events' `timestamp` (taken when the
 * simulator sends them, so a busy test runner cannot shorten them) and only checked from below:
 * a timer never fires early, but may fire late.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import {
  ari,
  type EventSocket,
  originatePath,
  type ReceivedEvent,
  STASIS_STYLE,
  simFixtures,
} from './testing/client.ts';

const SCALE = 0.05;
const { start, open, cleanup } = simFixtures({ timeScale: SCALE });
afterEach(cleanup);

/**
 * Asterisk's `2026-01-02T03:04:05.678+0000` in ms. A gap may read up to 2 ms short: 1 ms for the
 * rounding of the two timestamps, 1 ms for a timer firing on a coarser clock than Date's.
 */
const ms = (e: ReceivedEvent) => Date.parse(String(e.timestamp).replace('+0000', 'Z'));
const atLeast = (from: ReceivedEvent, to: ReceivedEvent, simulatedMs: number) =>
  expect(ms(to) - ms(from)).toBeGreaterThanOrEqual(simulatedMs * SCALE - 2);

const on =
  (id: string, type: string, extra: (e: ReceivedEvent) => boolean = () => true) =>
  (e: ReceivedEvent) =>
    e.type === type && (e.channel as { id?: string } | undefined)?.id === id && extra(e);

const answered = (id: string) =>
  on(id, 'ChannelStateChange', (e) => (e.channel as { state: string }).state === 'Up');

const call = async (number: string, id: string, style: Record<string, string>) => {
  const sim = await start();
  const socket = await open(sim, 'app=contactcenter&subscribeAll=true');
  const r = await ari(sim.url, 'POST', originatePath(number, { ...style, channelId: id }));
  expect(r.status).toBe(200);
  return { sim, socket };
};

/** AMD() on the `;1` leg (ivr-amd), which then enters Stasis with the verdict as arguments. */
const amdVerdict = async (number: string, id: string, timeoutMs = 3000) => {
  const { socket } = await call(number, id, { extension: 's', context: 'ivr-amd', priority: '1' });
  const start = await socket.waitFor(on(id, 'StasisStart'), timeoutMs);
  return { socket, args: start.args as string[] };
};

const digitsOf = (socket: EventSocket, id: string) =>
  socket.events.filter(on(id, 'ChannelDtmfReceived')).map((e) => e.digit);

describe('sim-callee by number', () => {
  test('+15557771 answers and 2 s later presses 1 then #, as SendDTMF does (46)', async () => {
    const { socket } = await call('+15557771', 'dtmf-1', STASIS_STYLE);
    const up = await socket.waitFor(answered('dtmf-1'));
    const hash = await socket.waitFor(on('dtmf-1', 'ChannelDtmfReceived', (e) => e.digit === '#'));
    const dtmf = socket.events.filter(on('dtmf-1', 'ChannelDtmfReceived'));
    expect(dtmf.map((e) => [e.digit, e.duration_ms])).toEqual([
      ['1', 100],
      ['#', 100],
    ]);
    // Answer() waits 500 ms for a first frame, Wait(2), then the first digit ends 200 ms in.
    atLeast(up, dtmf[0] as ReceivedEvent, 2700);
    atLeast(dtmf[0] as ReceivedEvent, hash, 351);
    // The pressing half (;2) reports nothing.
    expect(socket.events.some(on('dtmf-1;2', 'ChannelDtmfReceived'))).toBe(false);
  });

  test('the digits are whatever follows +1555777, with or without the plus', async () => {
    const { socket } = await call('15557774209', 'dtmf-2', STASIS_STYLE);
    await socket.waitFor(on('dtmf-2', 'ChannelDtmfReceived', (e) => e.digit === '#'));
    expect(digitsOf(socket, 'dtmf-2')).toEqual(['4', '2', '0', '9', '#']);
  });

  test('+15557760 answers and sends no frames: AMD() gives up (NOTSURE TOOLONG), 60 s later cause 16', async () => {
    const { socket, args } = await amdVerdict('+15557760', 'quiet-1');
    // No frames is not silence: never INITIALSILENCE (IVR.md, 58-ivr-amd-silence).
    expect(args).toEqual(['amd', 'NOTSURE', 'TOOLONG-4900']);
    const up = await socket.waitFor(answered('quiet-1'));
    const gone = await socket.waitFor(on('quiet-1', 'ChannelDestroyed'), 60_000 * SCALE + 3000);
    expect(gone.cause).toBe(16);
    atLeast(up, gone, 60_000);
    expect(socket.events.some(on('quiet-1', 'ChannelDtmfReceived'))).toBe(false);
  });

  test('+15557760 in Stasis: a recording with maxSilenceSeconds never ends on silence', async () => {
    const { sim, socket } = await call('+15557760', 'quiet-2', STASIS_STYLE);
    await socket.waitFor(on('quiet-2', 'StasisStart'));
    const rec = await ari(
      sim.url,
      'POST',
      '/ari/channels/quiet-2/record?name=quiet-2&format=wav&maxSilenceSeconds=1&ifExists=overwrite',
    );
    expect(rec.status).toBe(201);
    await socket.waitFor((e) => e.type === 'RecordingStarted');
    await Bun.sleep(5000 * SCALE);
    expect(socket.events.some((e) => e.type === 'RecordingFinished')).toBe(false);
    await ari(sim.url, 'POST', '/ari/recordings/live/quiet-2/stop');
    const done = await socket.waitFor((e) => e.type === 'RecordingFinished');
    // Stopped by the request, not by silence: no frames, no seconds (59).
    expect(done.recording).toMatchObject({
      name: 'quiet-2',
      state: 'done',
      duration: 0,
      silence_duration: 0,
    });
  });

  test('+15557785 speaks for 5 s: AMD() with its defaults judges MACHINE', async () => {
    const { args } = await amdVerdict('+15557785', 'amd-5');
    expect(args).toEqual(['amd', 'MACHINE', 'MAXWORDS-3-2']);
  });

  test('+15557781 speaks for 1 s, then silent audio: AMD() judges HUMAN', async () => {
    const { args } = await amdVerdict('+15557781', 'amd-1');
    expect(args).toEqual(['amd', 'HUMAN', 'HUMAN-800-800']);
  });

  test('+15557784 (the smallest machine) is MACHINE too; the callee hangs up when its audio ends', async () => {
    const { socket, args } = await amdVerdict('+15557784', 'amd-4');
    expect(args[1]).toBe('MACHINE');
    const gone = await socket.waitFor(on('amd-4', 'ChannelDestroyed'), 64_000 * SCALE + 3000);
    expect(gone.cause).toBe(16);
  });

  test('+15557750 answers and hangs up with cause 16 after 3 s', async () => {
    const { socket } = await call('+15557750', 'hup-1', STASIS_STYLE);
    const up = await socket.waitFor(answered('hup-1'));
    const request = await socket.waitFor(on('hup-1', 'ChannelHangupRequest'));
    const gone = await socket.waitFor(on('hup-1', 'ChannelDestroyed'));
    expect([request.cause, gone.cause]).toEqual([16, 16]);
    atLeast(up, request, 3000);
    expect(socket.trail('hup-1')).toEqual([
      'ChannelCreated(Down)',
      'Dial(Down) ',
      'ChannelStateChange(Up)',
      'Dial(Up) ANSWER',
      'ChannelVarset(Up) STASISSTATUS=',
      'StasisStart(Up)',
      'ChannelHangupRequest(Up) 16',
      'StasisEnd(Up)',
      'ChannelVarset(Up) STASISSTATUS=SUCCESS',
      'ChannelDestroyed(Up) 16',
    ]);
  });

  test('every other number keeps its last-digit outcome', async () => {
    const sim = await start();
    const socket = await open(sim, 'app=contactcenter&subscribeAll=true');
    // +1555777 and +1555776 have nothing after the prefix, so they are no callee by number.
    const numbers = ['+15557791', '+15557703', '+1555777', '+1555776', '15557785', '+15551234000'];
    for (const [i, number] of numbers.entries()) {
      await ari(sim.url, 'POST', originatePath(number, { ...STASIS_STYLE, channelId: `other-${i}` }));
    }
    const where = async (i: number) => {
      const e = await socket.waitFor(
        on(`other-${i};2`, 'ChannelDialplan', (e) => e.dialplan_app !== 'Goto' && e.dialplan_app !== 'Set'),
      );
      const { context, exten } = (e.channel as { dialplan: { context: string; exten: string } }).dialplan;
      return `${numbers[i]} ${context},${exten}`;
    };
    expect(await Promise.all(numbers.map((_, i) => where(i)))).toEqual([
      '+15557791 sim-outcome,1',
      '+15557703 sim-outcome,3',
      '+1555777 sim-outcome,7',
      '+1555776 sim-outcome,6',
      '15557785 sim-callee,15557785',
      '+15551234000 sim-outcome,0',
    ]);
  });
});
