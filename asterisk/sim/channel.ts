/**
 * The channel model: one half of a Local pair, the mutable state its snapshots
 * (model.ts `snapshot`) are made of, and what the other modules hang on it.
 */
import { AudioLink } from './audio.ts';
import type { LocalCall } from './local-call.ts';
import { MediaQueue } from './media.ts';
import type { CallerIdJson, ChannelStateName, ChannelView, DialplanJson } from './model.ts';
import type { Timers } from './timers.ts';

export const NO_ONE: CallerIdJson = { name: '', number: '' };

/** What ChannelCallerId carries besides the channel; originated caller ids are never restricted. */
export const CALLER_ID_FIELDS = {
  caller_presentation: 0,
  caller_presentation_txt: 'Presentation Allowed, Not Screened',
};

/** A place in the dialplan. */
export type Location = Pick<DialplanJson, 'context' | 'exten' | 'priority'>;

export class Channel implements ChannelView {
  state: ChannelStateName;
  caller: CallerIdJson = { ...NO_ONE };
  connected: CallerIdJson = { ...NO_ONE };
  dialplan: DialplanJson;
  readonly vars = new Map<string, string>();
  /** Apps without subscribeAll that still get this channel's events (originate with app=). */
  readonly subscriptions = new Set<string>();
  /** Set between StasisStart and StasisEnd. */
  stasisApp: string | null = null;
  alive = true;
  /** The Local pair this channel is half of; set right after both halves exist. */
  call: LocalCall | null = null;
  /** The frames this channel sends to its peer. */
  readonly out: AudioLink;
  /** Its ARI playbacks and recordings, one at a time. */
  readonly media = new MediaQueue();
  /** Variables set with report_events: they show in every snapshot as `channelvars`. */
  readonly reported = new Set<string>();
  /** The id of the bridge it is in. */
  bridge: string | null = null;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly leg: 1 | 2,
    readonly creationtime: string,
    context: string,
    exten: string,
    timers: Timers,
  ) {
    this.state = leg === 1 ? 'Down' : 'Ring';
    this.dialplan = { context, exten, priority: 1, app_name: '', app_data: '' };
    this.out = new AudioLink(timers);
  }

  get channelvars(): Record<string, string> | undefined {
    if (this.reported.size === 0) return undefined;
    const out: Record<string, string> = {};
    for (const name of this.reported) out[name] = this.vars.get(name) ?? '';
    return out;
  }

  /** The other half of the Local pair. */
  get peer(): Channel | null {
    if (!this.call) return null;
    return this.leg === 1 ? this.call.ch2 : this.call.ch1;
  }
}
