import { migrate } from './migrate.ts';
import { openDatabase } from './open.ts';

// `npm run db:migrate`: applies the committed migrations to DATABASE_URL (or the embedded database).
// The services apply them at start as well; this is for deployments that migrate as a separate step.
const database = await openDatabase({
  databaseUrl: process.env.DATABASE_URL || undefined,
  dataDir: process.env.DATA_DIR ?? './.data',
});
try {
  const applied = await migrate(database.db);
  console.log(`${applied} migration(s) applied to ${database.label}`);
} finally {
  await database.close();
}
