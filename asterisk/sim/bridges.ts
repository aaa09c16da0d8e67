/**
 * The minimal bridges 49-ivr-record-failed-in-bridge needs: create, add and remove a channel,
 * destroy, list and get. No audio is mixed; a channel in a bridge only cannot be recorded.
 */
import type { Channel } from './channel.ts';
import type { Engine } from './engine.ts';
import { asteriskTime, type BridgeJson, bridgeEvent, channelEvent, snapshot } from './model.ts';
import { fail, type Reply } from './reply.ts';

const TYPES = new Set(['mixing', 'holding', 'dtmf_events', 'proxy_media', 'video_sfu', 'video_single']);

const NOT_FOUND = fail(404, 'Bridge not found');

export class Bridges {
  private readonly byId = new Map<string, BridgeJson>();

  constructor(private readonly engine: Engine) {}

  clear(): void {
    this.byId.clear();
  }

  list(): Reply {
    return { status: 200, body: [...this.byId.values()] };
  }

  get(id: string): Reply {
    const b = this.byId.get(id);
    return b ? { status: 200, body: b } : NOT_FOUND;
  }

  /** POST /bridges[/{bridgeId}]: 200 with the bridge, then BridgeCreated (49). */
  create(id: string | null, type: string | null, name: string | null): Reply {
    const types = (type || 'mixing').split(',');
    if (!types.every((t) => TYPES.has(t))) return fail(400, 'Invalid bridge type');
    const bridgeId = id || crypto.randomUUID();
    if (this.byId.has(bridgeId)) return fail(409, 'Bridge with id already exists');
    const holding = types.includes('holding');
    const bridge: BridgeJson = {
      id: bridgeId,
      technology: holding ? 'holding_bridge' : 'simple_bridge',
      bridge_type: holding ? 'holding' : 'mixing',
      bridge_class: 'stasis',
      creator: 'Stasis',
      name: name ?? '',
      channels: [],
      creationtime: asteriskTime(),
      video_mode: 'talker',
    };
    this.byId.set(bridgeId, bridge);
    const { bus } = this.engine;
    bus.publish(bus.allRoutes(), bridgeEvent('BridgeCreated', bridge, bus.base()));
    return { status: 200, body: { ...bridge } };
  }

  /** The channels named by `channel=a,b`, all live and in Stasis, or why not. */
  private members(ids: string | null): Channel[] | Reply {
    if (!ids) return fail(400, 'Missing parameter channel');
    const out: Channel[] = [];
    for (const id of ids.split(',')) {
      const ch = this.engine.findChannel(id);
      if (!ch) return fail(400, 'Channel not found');
      if (ch.stasisApp === null) return fail(422, 'Channel not in Stasis application');
      out.push(ch);
    }
    return out;
  }

  addChannel(id: string, ids: string | null): Reply {
    const bridge = this.byId.get(id);
    if (!bridge) return NOT_FOUND;
    const channels = this.members(ids);
    if (!Array.isArray(channels)) return channels;
    for (const ch of channels) {
      if (ch.bridge === id) continue;
      if (ch.bridge !== null) this.leave(ch);
      ch.bridge = id;
      bridge.channels.push(ch.id);
      this.emit('ChannelEnteredBridge', bridge, ch);
    }
    return { status: 204 };
  }

  removeChannel(id: string, ids: string | null): Reply {
    const bridge = this.byId.get(id);
    if (!bridge) return NOT_FOUND;
    const channels = this.members(ids);
    if (!Array.isArray(channels)) return channels;
    if (channels.some((ch) => ch.bridge !== id)) return fail(422, 'Channel not in this bridge');
    for (const ch of channels) this.leave(ch);
    return { status: 204 };
  }

  /** DELETE /bridges/{id}: its channels leave, then BridgeDestroyed. */
  destroy(id: string): Reply {
    const bridge = this.byId.get(id);
    if (!bridge) return NOT_FOUND;
    for (const chId of [...bridge.channels]) {
      const ch = this.engine.channels.get(chId);
      if (ch) this.leave(ch);
    }
    this.byId.delete(id);
    const { bus } = this.engine;
    bus.publish(bus.allRoutes(), bridgeEvent('BridgeDestroyed', bridge, bus.base()));
    return { status: 204 };
  }

  /** A channel leaves its bridge (removeChannel, or leaving Stasis): ChannelLeftBridge. */
  leave(ch: Channel): void {
    const bridge = ch.bridge === null ? undefined : this.byId.get(ch.bridge);
    ch.bridge = null;
    if (!bridge) return;
    bridge.channels = bridge.channels.filter((c) => c !== ch.id);
    this.emit('ChannelLeftBridge', bridge, ch);
  }

  private emit(type: string, bridge: BridgeJson, ch: Channel): void {
    const { bus } = this.engine;
    const json = { ...bridge, channels: [...bridge.channels] };
    bus.publish(bus.channelRoutes(ch), channelEvent(type, snapshot(ch), bus.base(), { bridge: json }));
  }
}
