import { afterAll, beforeAll, beforeEach, describe, expect } from 'bun:test';
import { eq, inArray } from 'drizzle-orm';
import { housekeep } from '../../api/housekeeping.ts';
import { silentLogger } from '../../api/shared/base/log.ts';
import { type CallEventInput, recordingName } from '../../api/shared/contract/index.ts';
import { calls } from '../../db/schema.ts';
import {
  expectProblem,
  MODES,
  startTestStack,
  TARGET,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

/**
 * A call's recordings: listed and downloaded with the call's authorization, the audio streamed from
 * the sidecar that holds it; deleted from the PBX by retention before their call goes.
 */

let stack: TestStack;
let op: TestUser;

beforeAll(async () => {
  stack = await startTestStack();
  op = await stack.user('operator');
}, 60_000);
afterAll(() => stack.stop());
beforeEach(() => stack.sidecar.reset());

/** A WAV-sized run of bytes that is not the same backwards or in any 4 KiB window. */
function audio(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  bytes.set(new TextEncoder().encode('RIFF'), 0);
  return bytes;
}

let seq = 0;
/** A call whose flow recorded `names` (each in its own run), the audio on the double's PBX. */
async function callWithRecordings(
  names: string[],
  owner = op,
): Promise<{ id: string; files: Uint8Array<ArrayBuffer>[] }> {
  const res = await stack.request('http', '/api/v2/calls', {
    token: owner.token,
    json: { phone_number: '5551234000' },
  });
  const id = ((await res.json()) as { call_id: string }).call_id;
  await stack.database.db
    .update(calls)
    .set({ flow: names.map((name) => ({ verb: 'record', name })) })
    .where(eq(calls.id, id));
  const files = names.map((_, i) => audio(50_000 + i * 1000));
  const events: CallEventInput[] = names.map((name, i) => ({
    event_id: `${id}:rec:${i}`,
    call_id: id,
    seq: ++seq,
    type: 'step_finished',
    status: 'answered',
    occurred_at: new Date().toISOString(),
    flow: {
      run: i + 1,
      segment: 0,
      step: i,
      step_id: null,
      verb: 'record',
      answer: { name, value: { recording: recordingName(id, name, i + 1), duration_ms: 1000 + i } },
    },
  }));
  if (events.length > 0) expect((await stack.sidecar.sendEvents(stack.url, events)).status).toBe(200);
  for (const [i, name] of names.entries())
    stack.sidecar.recordings.set(recordingName(id, name, i + 1), files[i]!);
  return { id, files };
}

describe('recordings', () => {
  test('listed with their download address, and downloaded byte for byte as the sidecar streams them', async () => {
    const { id, files } = await callWithRecordings(['message', 'note']);
    for (const mode of MODES) {
      const res = await stack.request(mode, `/api/v2/calls/${id}/recordings`, { token: op.token });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        call_id: string;
        recordings: Array<{
          name: string;
          recording: string;
          duration_ms: number;
          format: string;
          url: string;
        }>;
      };
      expect(body.call_id).toBe(id);
      expect(body.recordings.map((r) => [r.name, r.recording, r.duration_ms, r.format, r.url])).toEqual([
        ['message', recordingName(id, 'message', 1), 1000, 'wav', `/api/v2/calls/${id}/recordings/message`],
        ['note', recordingName(id, 'note', 2), 1001, 'wav', `/api/v2/calls/${id}/recordings/note`],
      ]);
      const file = await stack.request(mode, body.recordings[1]!.url, { token: op.token });
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('audio/wav');
      // The app passes the sidecar's length on; Bun's server may still send a streamed body chunked.
      const length = file.headers.get('content-length');
      if (mode === 'in-process' || length !== null) expect(length).toBe(String(files[1]!.length));
      expect(new Uint8Array(await file.arrayBuffer())).toEqual(new Uint8Array(files[1]!));
    }
    // Asked for by the command the sidecar verified, for exactly this call's recording.
    expect(stack.sidecar.recordingFiles.map((c) => [c.body.call_id, c.body.recording])).toContainEqual([
      id,
      recordingName(id, 'note', 2),
    ]);
  });

  test('a viewer and an admin may download; another operator gets 404 and the sidecar is not asked', async () => {
    const { id } = await callWithRecordings(['message']);
    for (const role of ['viewer', 'admin'] as const) {
      const user = await stack.user(role);
      const res = await stack.request('http', `/api/v2/calls/${id}/recordings/message`, {
        token: user.token,
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const before = stack.sidecar.recordingFiles.length;
    const other = await stack.user('operator');
    for (const path of [`/api/v2/calls/${id}/recordings`, `/api/v2/calls/${id}/recordings/message`])
      await expectProblem(await stack.request('http', path, { token: other.token }), 404, 'call_not_found');
    expect(stack.sidecar.recordingFiles.length).toBe(before);
    await expectProblem(await stack.request('http', `/api/v2/calls/${id}/recordings/message`), 401);
  });

  test('an unknown name, a recording gone from the PBX, a bad name: 404 and 422 problems', async () => {
    const { id } = await callWithRecordings(['message']);
    for (const mode of MODES) {
      await expectProblem(
        await stack.request(mode, `/api/v2/calls/${id}/recordings/nothing`, { token: op.token }),
        404,
        'recording_not_found',
      );
      const bad = await expectProblem(
        await stack.request(mode, `/api/v2/calls/${id}/recordings/1bad%20name`, { token: op.token }),
        422,
        'validation_error',
      );
      expect(JSON.stringify(bad.errors)).toContain('name');
    }
    stack.sidecar.recordings.clear();
    await expectProblem(
      await stack.request('http', `/api/v2/calls/${id}/recordings/message`, { token: op.token }),
      404,
      'recording_not_found',
    );
  });

  test('the sidecar unreachable: 503 with Retry-After', async () => {
    const { id } = await callWithRecordings(['message']);
    stack.sidecar.recordingBehaviour = 'refuse';
    const res = await stack.request('http', `/api/v2/calls/${id}/recordings/message`, { token: op.token });
    expect(res.headers.get('retry-after')).toBeTruthy();
    await expectProblem(res, 503, 'pbx_unavailable');
  });
});

describe('retention', () => {
  const DAY = 86_400_000;
  async function age(ids: string[]) {
    const old = new Date(Date.now() - (stack.config.CALL_RETENTION_DAYS + 1) * DAY);
    await stack.database.db
      .update(calls)
      .set({ status: 'completed', createdAt: old, endedAt: old })
      .where(inArray(calls.id, ids));
  }
  async function housekeeping() {
    if (TARGET === 'workerd') {
      const res = await fetch(
        `${stack.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('0 * * * *')}`,
      );
      expect(res.status).toBe(200);
    } else await housekeep(stack.database.db, stack.config, silentLogger, stack.api.services.sidecars);
  }
  const remaining = async (ids: string[]) =>
    (await stack.database.db.select({ id: calls.id }).from(calls).where(inArray(calls.id, ids))).map(
      (r) => r.id,
    );

  test('an old call goes only once its recordings are deleted on the PBX; a sidecar down or failing keeps it', async () => {
    const { id } = await callWithRecordings(['message', 'note']);
    const plain = (await callWithRecordings([])).id;
    await age([id, plain]);

    stack.sidecar.recordingBehaviour = 'refuse';
    await housekeeping();
    expect(await remaining([id, plain])).toEqual([id]);
    expect(stack.sidecar.recordings.size).toBe(2);

    stack.sidecar.recordingBehaviour = 'fail';
    await housekeeping();
    expect(await remaining([id])).toEqual([id]);
    expect(stack.sidecar.recordings.size).toBe(2);

    stack.sidecar.recordingBehaviour = 'answer';
    await housekeeping();
    expect(await remaining([id])).toEqual([]);
    expect(stack.sidecar.recordings.size).toBe(0);
    const asked = stack.sidecar.recordingDeletes.filter((c) => c.body.call_id === id).at(-1)!;
    expect(asked.body.recordings.sort()).toEqual([
      recordingName(id, 'message', 1),
      recordingName(id, 'note', 2),
    ]);
  });

  test('a recording replaced by a later one of the same name is deleted too', async () => {
    const { id } = await callWithRecordings(['message', 'message']);
    const listed = (await (
      await stack.request('http', `/api/v2/calls/${id}/recordings`, { token: op.token })
    ).json()) as { recordings: Array<{ recording: string }> };
    expect(listed.recordings.map((r) => r.recording)).toEqual([recordingName(id, 'message', 2)]);
    await age([id]);
    await housekeeping();
    expect(await remaining([id])).toEqual([]);
    const asked = stack.sidecar.recordingDeletes.find((c) => c.body.call_id === id)!;
    expect(asked.body.recordings.sort()).toEqual([
      recordingName(id, 'message', 1),
      recordingName(id, 'message', 2),
    ]);
  });
});
