import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes a new migration from db/schema.ts; migrations are committed and
// applied by the service at start (db/migrate.ts), never edited or renumbered by hand.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './db/migrations',
  casing: 'snake_case',
});
