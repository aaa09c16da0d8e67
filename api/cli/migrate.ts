import { z } from 'zod';
import { isDataDirBusy } from '../../db/data-lock.ts';
import { migrate } from '../../db/migrate.ts';
import { openDatabase } from '../../db/open.ts';
import { ConfigSchema } from '../config.ts';
import { isEnvError, readEnv } from '../shared/base/env.ts';

// `npm run db:migrate`: applies the committed migrations to DATABASE_URL (or the embedded database).
// The services apply them at start as well; this is for deployments that migrate as a separate step.
// The API's own variables, read the way the API reads them (same defaults, same rules).
const MigrateEnv = z.object({
  DATABASE_URL: ConfigSchema.shape.DATABASE_URL,
  DATA_DIR: ConfigSchema.shape.DATA_DIR,
});
let env: z.output<typeof MigrateEnv>;
try {
  env = readEnv('db:migrate', MigrateEnv, process.env);
} catch (error) {
  if (!isEnvError(error)) throw error;
  console.error(error.message);
  process.exit(2);
}

let database: Awaited<ReturnType<typeof openDatabase>>;
try {
  database = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    owner: 'npm run db:migrate',
  });
} catch (error) {
  if (!isDataDirBusy(error)) throw error;
  // The process that has it open applied the migrations when it started.
  console.error(`db:migrate: ${error.message}.\nNothing was changed; stop that process first.`);
  process.exit(1);
}
try {
  const applied = await migrate(database.db);
  console.log(`${applied} migration(s) applied to ${database.label}`);
} finally {
  await database.close();
}
