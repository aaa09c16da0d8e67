import type { OriginateRecord } from '../../asterisk/sim/server.ts';
import { freePort, spawnBun, waitListening } from './util.ts';

/**
 * The ARI simulator as its own process (`bun asterisk/sim/main.ts`), driven over `/_sim/`. Timing
 * measured at the simulator (originates per second) is then taken by a process whose event loop
 * nothing else in the test shares. In this process instead: `startAriSimulator` of
 * asterisk/sim/server.ts.
 */
export interface SimProcess {
  url: string;
  pid: number;
  originates(): Promise<OriginateRecord[]>;
  stats(): Promise<{ originates: number; events: number; sockets: number }>;
  stop(): Promise<void>;
}

export async function startSimulatorProcess(
  options: { timeScale?: number; eventsBeforeReply?: 'never' | 'sometimes' | 'always' } = {},
): Promise<SimProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const auth = { Authorization: `Basic ${btoa('ariuser:aripass')}` };
  const child = spawnBun('asterisk/sim/main.ts', {
    SIM_PORT: String(port),
    SIM_HOST: '127.0.0.1',
    SIM_TIME_SCALE: String(options.timeScale ?? 0.05),
    SIM_EVENTS_BEFORE_REPLY: options.eventsBeforeReply ?? 'sometimes',
  });
  try {
    await waitListening(
      child,
      (signal) => fetch(`${url}/ari/asterisk/ping`, { headers: auth, signal }),
      'simulator',
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`, { headers: auth });
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    return (await res.json()) as T;
  };
  return {
    url,
    pid: child.pid,
    originates: () => get<OriginateRecord[]>('/_sim/originates'),
    stats: () => get('/_sim/stats'),
    async stop() {
      child.kill('SIGTERM');
      await child.exited;
    },
  };
}
