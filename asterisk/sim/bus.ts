/**
 * Event publishing: the events sockets and the applications they register, which socket hears
 * which event (subscribeAll, per-channel subscriptions), and which events of a request go out
 * before its HTTP reply.
 */
import type { Channel } from './channel.ts';
import {
  applicationJson,
  applicationReplacedEvent,
  asteriskTime,
  type ChannelStateName,
  channelEvent,
  deviceStateEvent,
  dialEvent,
  type EventBuilder,
  hangupRequestEvent,
  snapshot,
} from './model.ts';
import type { Reply } from './reply.ts';

/** Where an events websocket's messages go; the server wraps Bun's ServerWebSocket in one. */
export interface Sink {
  readonly id: number;
  send(data: string): void;
  isOpen(): boolean;
}

export type EventsBeforeReply = 'never' | 'sometimes' | 'always';

interface SocketState {
  readonly sink: Sink;
  readonly apps: readonly string[];
  readonly subscribeAll: boolean;
}

interface Delivery {
  readonly sink: Sink;
  readonly data: string;
}

export type Route = { app: string; sink: Sink };

export interface Gated<T> {
  value: T;
  /** Events delivered before the reply; the server waits a moment so they arrive first. */
  sentBeforeReply: number;
  /** Call once the reply has been handed to the HTTP layer. */
  afterReply(): void;
}

/** How many of the events a request published go out before its reply. */
export type PrefixPolicy<T> = (
  value: T,
  published: number,
  mode: EventsBeforeReply,
  random: () => number,
) => number;

export class EventBus {
  private readonly sockets = new Map<number, SocketState>();
  private readonly registry = new Map<string, SocketState>();
  private capturing: Delivery[][] | null = null;
  private deferred: Delivery[] = [];
  private flushScheduled = false;
  /** Events published so far (one per publish call, whoever hears it). */
  published = 0;
  /** Messages written to sockets so far. */
  eventsSent = 0;

  constructor(
    private readonly entityId: string,
    private readonly mode: EventsBeforeReply,
    private readonly random: () => number,
  ) {}

  // ---------------------------------------------------------------- applications and sockets

  attach(sink: Sink, apps: readonly string[], subscribeAll: boolean): void {
    const state: SocketState = { sink, apps, subscribeAll };
    this.sockets.set(sink.id, state);
    for (const app of apps) {
      const previous = this.registry.get(app);
      if (previous && previous !== state) {
        // The old socket stays open but is told once, then hears nothing more for this app.
        this.publish([{ app, sink: previous.sink }], applicationReplacedEvent(this.base()));
      }
      this.registry.set(app, state);
    }
  }

  detach(sink: Sink): void {
    const state = this.sockets.get(sink.id);
    if (!state) return;
    this.sockets.delete(sink.id);
    for (const app of state.apps) {
      if (this.registry.get(app) === state) this.registry.delete(app);
    }
  }

  get socketCount(): number {
    return this.sockets.size;
  }

  isRegistered(app: string): boolean {
    return this.registry.has(app);
  }

  hasSubscribeAllApp(): boolean {
    for (const state of this.registry.values()) if (state.subscribeAll) return true;
    return false;
  }

  appNames(): string[] {
    return [...this.registry.keys()].sort();
  }

  /** GET /applications/{name}; `channelIds` are the channels subscribed to it by originate. */
  application(name: string, channelIds: () => string[]): unknown {
    const state = this.registry.get(name);
    if (!state) return undefined;
    return applicationJson(name, state.subscribeAll, channelIds());
  }

  /** A restart: no sockets, no apps, nothing waiting to be sent. */
  clear(): void {
    this.sockets.clear();
    this.registry.clear();
    this.deferred = [];
  }

  // ---------------------------------------------------------------- publishing

  base() {
    return { timestamp: asteriskTime(), asteriskId: this.entityId };
  }

  /** Every subscribeAll app, plus the apps subscribed to this channel. */
  channelRoutes(ch: Channel): Route[] {
    const routes: Route[] = [];
    for (const [app, state] of this.registry) {
      if (state.subscribeAll || ch.subscriptions.has(app)) routes.push({ app, sink: state.sink });
    }
    return routes;
  }

  /** Every subscribeAll app: device states and bridges go there. */
  allRoutes(): Route[] {
    const routes: Route[] = [];
    for (const [app, s] of this.registry) if (s.subscribeAll) routes.push({ app, sink: s.sink });
    return routes;
  }

  /** The socket of one app (StasisStart/End go to the app the channel is in, and only there). */
  appRoute(app: string): Route[] {
    const owner = this.registry.get(app);
    return owner ? [{ app, sink: owner.sink }] : [];
  }

  publish(routes: Route[], build: EventBuilder): void {
    const deliveries = routes.map(({ app, sink }) => ({ sink, data: JSON.stringify(build(app)) }));
    this.published++;
    if (this.capturing) {
      this.capturing.push(deliveries);
      return;
    }
    this.enqueue(deliveries);
  }

  private enqueue(deliveries: readonly Delivery[]): void {
    if (this.deferred.length > 0) {
      this.deferred.push(...deliveries);
      return;
    }
    for (const d of deliveries) this.send(d);
  }

  private send(d: Delivery): void {
    if (!d.sink.isOpen()) return;
    d.sink.send(d.data);
    this.eventsSent++;
  }

  private flushDeferred(): void {
    this.flushScheduled = false;
    const queue = this.deferred;
    this.deferred = [];
    for (const d of queue) this.send(d);
  }

  /**
   * Runs a request handler and decides which of the events it published go out before its
   * HTTP reply. Real Asterisk publishes from other threads, so a client sees ChannelCreated (and
   * for fast failures sometimes even ChannelDestroyed) before the 200; see README finding 3.
   */
  gated<T>(fn: () => T, prefix: PrefixPolicy<T>): Gated<T> {
    if (this.capturing) {
      return { value: fn(), sentBeforeReply: 0, afterReply: () => {} };
    }
    const captured: Delivery[][] = [];
    this.capturing = captured;
    let value: T;
    try {
      value = fn();
    } finally {
      this.capturing = null;
    }
    const k = Math.max(0, Math.min(captured.length, prefix(value, captured.length, this.mode, this.random)));
    let sentBeforeReply = 0;
    for (let i = 0; i < captured.length; i++) {
      const deliveries = captured[i] as Delivery[];
      if (i < k) {
        this.enqueue(deliveries);
        sentBeforeReply += deliveries.length;
      } else {
        this.deferred.push(...deliveries);
      }
    }
    return {
      value,
      sentBeforeReply,
      afterReply: () => {
        if (this.deferred.length === 0 || this.flushScheduled) return;
        this.flushScheduled = true;
        setTimeout(() => this.flushDeferred(), 1);
      },
    };
  }

  /** Prefix policy for DELETE: the hangup events came before the 204 in two of six recorded cases. */
  static hangupPrefix(_r: Reply, published: number, mode: EventsBeforeReply, random: () => number) {
    if (mode === 'always') return published;
    if (mode === 'never') return 0;
    return random() < 0.35 ? published : 0;
  }

  // ---------------------------------------------------------------- channel events

  emitChannel(ch: Channel, type: string, fields: Record<string, unknown> = {}): void {
    this.publish(this.channelRoutes(ch), channelEvent(type, snapshot(ch), this.base(), fields));
  }

  setState(ch: Channel, state: ChannelStateName): void {
    if (ch.state === state) return;
    ch.state = state;
    this.emitChannel(ch, 'ChannelStateChange');
  }

  emitHangupRequest(ch: Channel, cause: number, soft: boolean): void {
    this.publish(this.channelRoutes(ch), hangupRequestEvent(snapshot(ch), this.base(), cause, soft));
  }

  emitDial(ch1: Channel, dialstring: string, status: string): void {
    this.publish(this.channelRoutes(ch1), dialEvent(snapshot(ch1), this.base(), status, dialstring));
  }

  emitDevice(device: string, state: string): void {
    this.publish(this.allRoutes(), deviceStateEvent(this.base(), device, state));
  }

  emitStasisStart(ch: Channel, app: string, args: string[]): void {
    const route = this.appRoute(app);
    if (route.length === 0) return;
    this.publish(route, channelEvent('StasisStart', snapshot(ch), this.base(), { args }));
  }

  emitStasisEnd(ch: Channel, app: string): void {
    const route = this.appRoute(app);
    if (route.length === 0) return;
    this.publish(route, channelEvent('StasisEnd', snapshot(ch), this.base()));
  }
}
