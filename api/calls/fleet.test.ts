import { describe, expect, test } from 'bun:test';
import type { SidecarStatus } from '../shared/contract/index.ts';
import { DEFAULT_SIDECAR_CAPACITY, SidecarFleet } from './fleet.ts';
import { type SidecarClient, SidecarUnreachableError } from './sidecar-client.ts';

/** A client whose status answers as `behaviour` says; nothing else is used here. */
function client(
  id: string,
  behaviour: { refuse?: boolean; breaker?: 'open' | 'closed'; capacity?: number } = {},
) {
  const c = {
    id,
    behaviour,
    statuses: 0,
    async status(): Promise<SidecarStatus> {
      c.statuses++;
      if (c.behaviour.refuse) throw new SidecarUnreachableError(`${id} refused`, { notDelivered: true });
      return {
        sidecar_id: id,
        ari: { connected: true, breaker: c.behaviour.breaker ?? 'closed', retry_after_s: 7 },
        live_calls: 0,
        queued_calls: 0,
        outbox_depth: 0,
        ...(c.behaviour.capacity ? { max_concurrent_calls: c.behaviour.capacity } : {}),
      };
    },
  };
  return c as typeof c & SidecarClient;
}

describe('SidecarFleet', () => {
  test('ranks by load over capacity; full ones after those with room; down ones last', async () => {
    let now = 1_000_000;
    const [a, b, c] = [client('a'), client('b', { refuse: true }), client('c')];
    const fleet = new SidecarFleet([a, b, c], { now: () => now });
    const loads = [
      { id: 'a', load: 9, capacity: 10 },
      { id: 'b', load: 0, capacity: 10 },
      { id: 'c', load: 30, capacity: 100 },
    ];
    expect(fleet.rank(loads).map((x) => x.id)).toEqual(['b', 'c', 'a']);
    await expect(fleet.status('b')).rejects.toThrow('b refused');
    expect(fleet.state('b')).toBe('down');
    // b is now down: behind both others, even behind a full one.
    const full = [{ id: 'a', load: 10, capacity: 10 }, ...loads.slice(1)];
    expect(fleet.rank(full).map((x) => [x.id, x.state])).toEqual([
      ['c', 'up'],
      ['a', 'up'],
      ['b', 'down'],
    ]);
    // It is checked again in the background once RECHECK_MS passed, and is up when it answers.
    b.behaviour.refuse = false;
    const tasks: Promise<unknown>[] = [];
    fleet.recheck((t) => tasks.push(t));
    expect(tasks).toHaveLength(0);
    now += 2500;
    fleet.recheck((t) => tasks.push(t));
    await Promise.all(tasks);
    expect(fleet.state('b')).toBe('up');
  });

  test('three unreachable answers open its breaker: refused unsent until it half-opens, one trial then', async () => {
    let now = 0;
    const a = client('a', { refuse: true });
    const fleet = new SidecarFleet([a, client('z')], { now: () => now });
    for (let i = 0; i < 3; i++) await expect(fleet.status('a')).rejects.toThrow('a refused');
    expect(a.statuses).toBe(3);
    expect(fleet.state('a')).toBe('breaker_open');
    const refused = await fleet.status('a').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SidecarUnreachableError);
    expect((refused as SidecarUnreachableError).notDelivered).toBe(true);
    expect(a.statuses).toBe(3);
    expect(fleet.state('z')).toBe('up');
    // Half-open: one trial goes through; failing, it opens the breaker again at once.
    now += 5001;
    await expect(fleet.status('a')).rejects.toThrow('a refused');
    expect(a.statuses).toBe(4);
    expect(fleet.state('a')).toBe('breaker_open');
    // While a trial is on its way, others are refused; its success closes the breaker.
    now += 5001;
    a.behaviour.refuse = false;
    const trial = fleet.status('a');
    await expect(fleet.status('a')).rejects.toThrow('circuit breaker open');
    await trial;
    expect(fleet.state('a')).toBe('up');
    await fleet.status('a');
    expect(a.statuses).toBe(6);
  });

  test('its own ARI breaker open makes it breaker_open for the retry_after it gave', async () => {
    let now = 0;
    const a = client('a', { breaker: 'open' });
    const fleet = new SidecarFleet([a], { now: () => now });
    await fleet.status('a');
    expect(fleet.state('a')).toBe('breaker_open');
    now += 7001;
    expect(fleet.state('a')).toBe('up');
  });

  test('capacity: the row, else what its status said (recorded once), else the default', async () => {
    const recorded: Array<[string, number]> = [];
    const fleet = new SidecarFleet([client('a', { capacity: 8 })]);
    expect(fleet.capacity('a', null)).toBe(DEFAULT_SIDECAR_CAPACITY);
    const record = async (id: string, n: number) => {
      recorded.push([id, n]);
    };
    await fleet.status('a', record);
    await fleet.status('a', record);
    expect(recorded).toEqual([['a', 8]]);
    expect(fleet.capacity('a', null)).toBe(8);
    expect(fleet.capacity('a', 12)).toBe(12);
  });

  test('calls chosen but not yet stored count towards the load, so concurrent requests spread', () => {
    const fleet = new SidecarFleet([client('a'), client('b')], { random: () => 0.5 });
    const none = [
      { id: 'a', load: 0, capacity: 10 },
      { id: 'b', load: 0, capacity: 10 },
    ];
    const first = fleet.rank(none)[0]!.id;
    const release = fleet.reserve(first);
    expect(fleet.rank(none)[0]!.id).not.toBe(first);
    release();
    release();
    expect(fleet.rank(none).map((x) => x.load)).toEqual([0, 0]);
  });

  test('an unknown id has no client; a call stored without one belongs to the first', () => {
    const fleet = new SidecarFleet([client('a'), client('b')]);
    expect(fleet.clientFor('nope')).toBeUndefined();
    expect(fleet.clientFor(null)?.id).toBe('a');
    expect(fleet.clientFor('b')?.id).toBe('b');
    expect(() => new SidecarFleet([client('a'), client('a')])).toThrow('named twice');
  });
});
