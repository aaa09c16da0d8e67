import { createRoute, z } from '@hono/zod-openapi';
import { getCallRecording, listCallRecordings } from '../../../db/queries/recordings.ts';
import { isSidecarUnreachable } from '../../calls/sidecar-client.ts';
import { ApiError } from '../../errors.ts';
import { FLOW_NAME } from '../../shared/contract/index.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { findVisibleCall } from './get.ts';
import { CallIdParamSchema } from './schema.ts';

/** Seconds a caller is told to wait when the sidecar holding a recording cannot be reached. */
const UNREACHABLE_RETRY_AFTER = 5;

const recordingPath = (callId: string, name: string) => `/api/v2/calls/${callId}/recordings/${name}`;

const RecordingSchema = z
  .object({
    name: z.string().openapi({ description: 'The answer name the recording is under', example: 'message' }),
    recording: z.string().openapi({
      description: 'The recording’s id (its name on the PBX)',
      example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b-message-4',
    }),
    duration_ms: z.number().int().openapi({ description: 'Its length in milliseconds', example: 4210 }),
    format: z.string().openapi({ description: 'Audio format', example: 'wav' }),
    recorded_at: z.iso
      .datetime({ offset: true })
      .openapi({ description: 'When the record step finished', example: '2026-11-23T15:24:02.513Z' }),
    url: z.string().openapi({
      description: 'Where to download it (with the same token)',
      example: '/api/v2/calls/5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b/recordings/message',
    }),
  })
  .openapi('Recording');

export const callRecordingsRoute = createRoute({
  method: 'get',
  path: '/api/v2/calls/{call_id}/recordings',
  tags: ['Calls'],
  summary: 'A call’s recordings',
  description:
    'What the call’s record steps recorded, one per answer name (a name recorded again keeps the latest). ' +
    'Visible to the call’s owner, admins and viewers.',
  ...guarded('calls:read'),
  request: { params: CallIdParamSchema },
  responses: {
    200: {
      description: 'The recordings, oldest first',
      content: {
        'application/json': {
          schema: z
            .object({
              call_id: z
                .uuid()
                .openapi({ description: 'The call id', example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b' }),
              recordings: z
                .array(RecordingSchema)
                .openapi({ description: 'One per answer name, oldest first' }),
            })
            .openapi('RecordingList'),
        },
      },
    },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

const RecordingParamSchema = CallIdParamSchema.extend({
  name: z
    .string()
    .regex(FLOW_NAME, 'must be an answer name: a letter, then letters, digits, _ or - (at most 64)')
    .openapi({ param: { name: 'name', in: 'path' }, description: 'The answer name', example: 'message' }),
});

export const callRecordingFileRoute = createRoute({
  method: 'get',
  path: '/api/v2/calls/{call_id}/recordings/{name}',
  tags: ['Calls'],
  summary: 'Download a recording',
  description:
    'The recording’s audio, streamed from the PBX through its sidecar (nothing is kept on the API). Visible to ' +
    'the call’s owner, admins and viewers. 503 when the sidecar holding it cannot be reached.',
  ...guarded('calls:read'),
  request: { params: RecordingParamSchema },
  responses: {
    200: {
      description: 'The audio',
      content: { 'audio/wav': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerCallRecordings = (app: App) => {
  app.openapi(callRecordingsRoute, async (c) => {
    const call = await findVisibleCall(c, c.req.valid('param').call_id);
    const rows = await listCallRecordings(c.get('services').db, call.id);
    return c.json(
      {
        call_id: call.id,
        recordings: rows.map((r) => ({
          name: r.name,
          recording: r.recording,
          duration_ms: r.durationMs,
          format: r.format,
          recorded_at: r.recordedAt.toISOString(),
          url: recordingPath(call.id, r.name),
        })),
      },
      200,
    );
  });

  app.openapi(callRecordingFileRoute, async (c) => {
    const { call_id, name } = c.req.valid('param');
    const call = await findVisibleCall(c, call_id);
    const services = c.get('services');
    const row = await getCallRecording(services.db, call.id, name);
    if (!row) throw new ApiError('recording_not_found', 'The call has no recording of that name');
    const unreachable = () =>
      new ApiError(
        'pbx_unavailable',
        'The sidecar holding the recording cannot be reached; try again shortly',
        {
          retryAfter: UNREACHABLE_RETRY_AFTER,
        },
      );
    const sidecar = services.sidecars.clientFor(row.sidecarId ?? call.sidecarId);
    if (!sidecar) throw unreachable();
    let audio: Awaited<ReturnType<typeof sidecar.recordingFile>>;
    try {
      audio = await sidecar.recordingFile({
        call_id: call.id,
        recording: row.recording,
        requested_at: new Date().toISOString(),
      });
    } catch (error) {
      if (!isSidecarUnreachable(error)) throw error;
      c.get('logger').warn('recording unavailable', { call_id: call.id, error: error.message });
      throw unreachable();
    }
    if (!audio) throw new ApiError('recording_not_found', 'The recording is no longer on the PBX');
    const headers: Record<string, string> = {
      'Content-Type': /^audio\//.test(audio.contentType) ? audio.contentType : 'audio/wav',
      'Content-Disposition': `attachment; filename="${name}.wav"`,
      'Cache-Control': 'private, no-store',
    };
    if (audio.contentLength !== null) headers['Content-Length'] = String(audio.contentLength);
    // The body is passed through as it streams, never held whole.
    return c.body(audio.body, 200, headers) as never;
  });
};
