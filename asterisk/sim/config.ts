import { z } from 'zod';
import { decimal, oneOf, port, type RawEnv, readEnv, secret, text } from '../../api/shared/base/env.ts';

/** The environment the ARI simulator reads (`bun asterisk/sim/main.ts`); names are the env names. */
export const SimEnv = z.object({
  SIM_PORT: port(8088),
  SIM_HOST: text('127.0.0.1'),
  ARI_USERNAME: text('ariuser'),
  ARI_PASSWORD: secret(text('aripass')),
  // 1 = real time; 0.05 runs twenty times faster.
  SIM_TIME_SCALE: decimal(1, 0),
  // How often events reach the socket before the originate's HTTP answer.
  SIM_EVENTS_BEFORE_REPLY: oneOf(['never', 'sometimes', 'always'], 'sometimes'),
});

export type SimConfig = z.output<typeof SimEnv>;

/** Reads the environment; throws an EnvError naming every bad variable. */
export function parseSimConfig(env: RawEnv): SimConfig {
  return readEnv('ARI simulator', SimEnv, env);
}
