import { expectOk } from '../ari/answers.ts';
import type { AriClient } from '../ari/http.ts';

/** What a flow needs of ARI (an AriClient; a fake in unit tests). */
export type FlowAriPort = Pick<AriClient, 'request' | 'hangup'>;

export interface RecordOptions {
  name: string;
  maxSeconds: number;
  maxSilenceSeconds: number | undefined;
  finishOnKey: string | undefined;
  beep: boolean;
}

const channel = (id: string) => `/channels/${encodeURIComponent(id)}`;

/**
 * The ARI operations of a flow's steps, each as IVR.md records it. Every one resolves once ARI
 * accepted it and rejects with an AriError otherwise; what happens next comes as events.
 */
export class FlowAri {
  constructor(private readonly ari: FlowAriPort) {}

  /** POST /channels/{id}/play/{playbackId} with the media as a JSON list (a repeated query would play the last only). */
  async play(channelId: string, playbackId: string, media: readonly string[]): Promise<void> {
    const sent = await this.ari.request({
      method: 'POST',
      path: `${channel(channelId)}/play/${encodeURIComponent(playbackId)}`,
      route: '/channels/{channelId}/play/{playbackId}',
      body: { media },
    });
    expectOk(sent, 'play');
  }

  /** DELETE /playbacks/{id}; a playback already finished (404) is fine. */
  async stopPlayback(playbackId: string): Promise<void> {
    const sent = await this.ari.request({
      method: 'DELETE',
      path: `/playbacks/${encodeURIComponent(playbackId)}`,
      route: '/playbacks/{playbackId}',
    });
    if (sent.status !== 404) expectOk(sent, 'stop playback');
  }

  async record(channelId: string, o: RecordOptions): Promise<void> {
    const query = new URLSearchParams({
      name: o.name,
      format: 'wav',
      maxDurationSeconds: String(o.maxSeconds),
      ifExists: 'overwrite',
      beep: String(o.beep),
      terminateOn: o.finishOnKey ?? 'none',
    });
    if (o.maxSilenceSeconds !== undefined) query.set('maxSilenceSeconds', String(o.maxSilenceSeconds));
    const sent = await this.ari.request({
      method: 'POST',
      path: `${channel(channelId)}/record?${query}`,
      route: '/channels/{channelId}/record',
    });
    expectOk(sent, 'record');
  }

  /** POST /recordings/live/{name}/stop; one already finished (404) is fine. */
  async stopRecording(name: string): Promise<void> {
    const sent = await this.ari.request({
      method: 'POST',
      path: `/recordings/live/${encodeURIComponent(name)}/stop`,
      route: '/recordings/live/{recordingName}/stop',
    });
    if (sent.status !== 404) expectOk(sent, 'stop recording');
  }

  async setVariables(channelId: string, variables: Record<string, string>): Promise<void> {
    const sent = await this.ari.request({
      method: 'POST',
      path: `${channel(channelId)}/variables`,
      route: '/channels/{channelId}/variables',
      body: { variables },
    });
    expectOk(sent, 'set variables');
  }

  /** POST /channels/{id}/continue: the channel leaves Stasis for the dialplan at that place. */
  async continueTo(channelId: string, context: string, extension: string, priority: number): Promise<void> {
    const query = new URLSearchParams({ context, extension, priority: String(priority) });
    const sent = await this.ari.request({
      method: 'POST',
      path: `${channel(channelId)}/continue?${query}`,
      route: '/channels/{channelId}/continue',
    });
    expectOk(sent, 'continue');
  }

  /** DELETE /channels/{id}?reason_code=cause; a channel already gone is fine. */
  async hangup(channelId: string, cause: number): Promise<void> {
    await this.ari.hangup(channelId, cause);
  }
}
