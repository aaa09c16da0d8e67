/**
 * Runs the ARI simulator as its own process: `bun asterisk/sim/main.ts`.
 * Environment: SIM_PORT (8088), SIM_HOST (127.0.0.1), ARI_USERNAME (ariuser),
 * ARI_PASSWORD (aripass), SIM_TIME_SCALE (1), SIM_EVENTS_BEFORE_REPLY (sometimes).
 */
import { z } from 'zod';
import { startAriSimulator } from './server.ts';

const Env = z.object({
  SIM_PORT: z.coerce.number().int().min(0).max(65535).default(8088),
  SIM_HOST: z.string().min(1).default('127.0.0.1'),
  ARI_USERNAME: z.string().min(1).default('ariuser'),
  ARI_PASSWORD: z.string().min(1).default('aripass'),
  SIM_TIME_SCALE: z.coerce.number().finite().min(0).default(1),
  SIM_EVENTS_BEFORE_REPLY: z.enum(['never', 'sometimes', 'always']).default('sometimes'),
});

const parsed = Env.safeParse(process.env);
if (!parsed.success) {
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  console.error(JSON.stringify({ level: 'error', msg: 'invalid ARI simulator configuration', problems }));
  process.exit(2);
}
const env = parsed.data;

const sim = await startAriSimulator({
  port: env.SIM_PORT,
  hostname: env.SIM_HOST,
  username: env.ARI_USERNAME,
  password: env.ARI_PASSWORD,
  timeScale: env.SIM_TIME_SCALE,
  eventsBeforeReply: env.SIM_EVENTS_BEFORE_REPLY,
});

console.log(
  JSON.stringify({
    level: 'info',
    msg: 'ARI simulator listening',
    url: sim.url,
    ari: `${sim.url}/ari`,
    events: `${sim.url.replace(/^http/, 'ws')}/ari/events`,
    timeScale: env.SIM_TIME_SCALE,
    pid: process.pid,
  }),
);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  await sim.stop();
  console.log(JSON.stringify({ level: 'info', msg: 'ARI simulator stopped', signal }));
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
