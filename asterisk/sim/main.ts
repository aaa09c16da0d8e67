/**
 * Runs the ARI simulator as its own process: `bun asterisk/sim/main.ts`.
 * Environment: ./config.ts (SIM_PORT, SIM_HOST, ARI_USERNAME, ARI_PASSWORD, SIM_TIME_SCALE,
 * SIM_EVENTS_BEFORE_REPLY); a bad one exits 2 with a message naming every bad variable.
 */
import { isEnvError } from '../../api/shared/base/env.ts';
import { createLogger, stdoutSink } from '../../api/shared/base/log.ts';
import { parseSimConfig, type SimConfig } from './config.ts';
import { startAriSimulator } from './server.ts';

let env: SimConfig;
try {
  env = parseSimConfig(process.env);
} catch (error) {
  if (!isEnvError(error)) throw error;
  console.error(error.message);
  process.exit(2);
}
const log = createLogger({ level: 'info', base: { service: 'ari-simulator' }, sink: stdoutSink });

const sim = await startAriSimulator({
  port: env.SIM_PORT,
  hostname: env.SIM_HOST,
  username: env.ARI_USERNAME,
  password: env.ARI_PASSWORD,
  timeScale: env.SIM_TIME_SCALE,
  eventsBeforeReply: env.SIM_EVENTS_BEFORE_REPLY,
});

log.info('ARI simulator listening', {
  url: sim.url,
  ari: `${sim.url}/ari`,
  events: `${sim.url.replace(/^http/, 'ws')}/ari/events`,
  timeScale: env.SIM_TIME_SCALE,
  pid: process.pid,
});

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  await sim.stop();
  log.info('ARI simulator stopped', { signal });
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
