import { isEnvError } from '../api/shared/base/env.ts';
import { KeyMaterialError } from '../api/shared/base/keys.ts';
import { parseConfig } from './config.ts';
import { describeError } from './errors.ts';
import { sidecarLogger, startSidecar } from './sidecar.ts';

/**
 * Composition root: configuration from the environment, then start. SIGTERM/SIGINT stop
 * accepting commands, let in-flight originates finish, flush the outbox for a bounded time and
 * close everything; a hard deadline makes sure the process exits even if something hangs.
 */

const HARD_DEADLINE_MS = 15_000;

async function main(): Promise<void> {
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(process.env);
  } catch (error) {
    if (isEnvError(error)) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = sidecarLogger(config);
  let sidecar: Awaited<ReturnType<typeof startSidecar>>;
  try {
    sidecar = await startSidecar(config, { log });
  } catch (error) {
    if (isEnvError(error)) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    if (error instanceof KeyMaterialError) {
      process.stderr.write(`invalid sidecar configuration: ${error.message}\n`);
      process.exit(2);
    }
    log.error('sidecar failed to start', { error: describeError(error) });
    process.exit(1);
  }

  let signals = 0;
  const shutdown = (signal: string) => {
    signals += 1;
    if (signals > 1) {
      log.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    log.info('signal received; shutting down', { signal });
    const hard = setTimeout(() => {
      log.error('shutdown deadline passed; exiting', { deadline_ms: HARD_DEADLINE_MS });
      process.exit(1);
    }, HARD_DEADLINE_MS);
    hard.unref();
    sidecar
      .stop()
      .then(() => process.exit(0))
      .catch((error) => {
        log.error('shutdown failed', { error: describeError(error) });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

await main();
