/**
 * The channel model: one half of a Local pair, the mutable state its snapshots
 * (model.ts `snapshot`) are made of, and what the other modules hang on it.
 */
import type { LocalCall } from './local-call.ts';
import type { CallerIdJson, ChannelStateName, ChannelView, DialplanJson } from './model.ts';

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

  constructor(
    readonly id: string,
    readonly name: string,
    readonly leg: 1 | 2,
    readonly creationtime: string,
    context: string,
    exten: string,
  ) {
    this.state = leg === 1 ? 'Down' : 'Ring';
    this.dialplan = { context, exten, priority: 1, app_name: '', app_data: '' };
  }

  /** The other half of the Local pair. */
  get peer(): Channel | null {
    if (!this.call) return null;
    return this.leg === 1 ? this.call.ch2 : this.call.ch1;
  }
}
