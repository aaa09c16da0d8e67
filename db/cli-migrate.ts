import { isDataDirBusy } from './data-lock.ts';
import { migrate } from './migrate.ts';
import { openDatabase } from './open.ts';

// `npm run db:migrate`: applies the committed migrations to DATABASE_URL (or the embedded database).
// The services apply them at start as well; this is for deployments that migrate as a separate step.
let database: Awaited<ReturnType<typeof openDatabase>>;
try {
  database = await openDatabase({
    databaseUrl: process.env.DATABASE_URL || undefined,
    dataDir: process.env.DATA_DIR ?? './.data',
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
