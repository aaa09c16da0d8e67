import type { RecordingDeleteReply } from '../../api/shared/contract/index.ts';
import { ariMessage } from '../ari/answers.ts';
import type { AriClient, FileAnswer } from '../ari/http.ts';
import { describeError } from '../errors.ts';

/**
 * A call's stored recordings at the PBX, for the API's recording commands: the audio streamed from
 * `GET /recordings/stored/{name}/file` (a RIFF/WAVE, 49-ivr-record-callee), and deletion (a 404
 * counts as deleted: the file is gone either way).
 */
export class Recordings {
  constructor(private readonly ari: Pick<AriClient, 'openFile' | 'request'>) {}

  file(name: string): Promise<FileAnswer> {
    return this.ari.openFile(
      `/recordings/stored/${encodeURIComponent(name)}/file`,
      '/recordings/stored/{recordingName}/file',
    );
  }

  async delete(callId: string, names: readonly string[]): Promise<RecordingDeleteReply> {
    const reply: RecordingDeleteReply = { call_id: callId, deleted: [], failed: [] };
    for (const name of names) {
      try {
        const sent = await this.ari.request({
          method: 'DELETE',
          path: `/recordings/stored/${encodeURIComponent(name)}`,
          route: '/recordings/stored/{recordingName}',
        });
        if (sent.status === 404 || (sent.status >= 200 && sent.status < 300)) reply.deleted.push(name);
        else {
          const message = ariMessage(sent.body);
          reply.failed.push({
            recording: name,
            error: `ARI answered ${sent.status}${message ? ` ${message}` : ''}`,
          });
        }
      } catch (error) {
        reply.failed.push({ recording: name, error: describeError(error).slice(0, 500) });
      }
    }
    return reply;
  }
}
