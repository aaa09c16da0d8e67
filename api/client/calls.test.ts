import { afterAll, describe, expect, test } from 'bun:test';
import { followCall } from './calls.ts';
import { type CallEvent, createOutdialClient } from './client.ts';

/**
 * A call that ends at the worst moment for a follower: right after its event log is read and before
 * the call itself is, while the stream (already open) carries the last event. The follower must still
 * tell that last event, whatever order it reads the two in.
 */
function endsBetweenReads() {
  const callId = crypto.randomUUID();
  const event = (sequence: number, status: string, type: string): CallEvent =>
    ({
      call_id: callId,
      sequence,
      type,
      status,
      time: new Date(Date.UTC(2026, 0, 1, 0, 0, sequence)).toISOString(),
      reason: null,
      hangup_cause: null,
      dial_status: null,
    }) as unknown as CallEvent;
  const log = [event(1, 'pending', 'created'), event(2, 'dialing', 'originated')];
  let status = 'dialing';
  let push: ((frame: string) => void) | null = null;
  const end = () => {
    if (status !== 'dialing') return;
    const last = event(3, 'busy', 'hangup');
    log.push(last);
    status = 'busy';
    push?.(`event: call\nid: 3\ndata: ${JSON.stringify(last)}\n\n`);
  };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === '/api/v2/events') {
        const encoder = new TextEncoder();
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            push = (frame) => controller.enqueue(encoder.encode(frame));
            push('event: ready\ndata: {"after":"2","resumed":false}\n\n');
          },
        });
        return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
      }
      if (path === `/api/v2/calls/${callId}/events`) {
        const answer = Response.json({ call_id: callId, events: [...log] });
        // Read the log, and the call ends before anything else is read.
        end();
        return answer;
      }
      if (path === `/api/v2/calls/${callId}`)
        return Response.json({ call_id: callId, status, phone_number: '+15551234001' });
      return new Response('not here', { status: 404 });
    },
  });
  return { callId, server };
}

describe('followCall', () => {
  const servers: { stop(force?: boolean): void }[] = [];
  afterAll(() => {
    for (const s of servers) s.stop(true);
  });

  test('a call that ends between the log and the call being read is followed to its last event', async () => {
    const { callId, server } = endsBetweenReads();
    servers.push(server);
    const client = createOutdialClient({ baseUrl: `http://127.0.0.1:${server.port}`, token: 't' });
    const told: CallEvent[] = [];
    const signal = AbortSignal.timeout(5000);
    const call = await followCall(client, callId, { onEvent: (e) => told.push(e), signal });
    expect(call.status).toBe('busy');
    expect(told.map((e) => [e.sequence, e.status])).toEqual([
      [1, 'pending'],
      [2, 'dialing'],
      [3, 'busy'],
    ]);
  });
});
