ALTER TABLE "login_throttle" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Hand-written backfill (drizzle-kit generated the column as NOT NULL at once, which fails on a table
-- with rows): the column is added empty, filled for the users that exist, then made NOT NULL.
ALTER TABLE "users" ADD COLUMN "username_canonical" text;--> statement-breakpoint
-- The canonical form is computed in JavaScript (db/username.ts). Every username the API and the CLI
-- have ever accepted is ASCII letters, digits and _ . @ -, where that form is the lowercase, and
-- Postgres' lower() lowercases ASCII the same in every collation. normalize(…, NFKC) first covers a
-- row written by hand with compatibility forms (fullwidth letters, the Kelvin sign). Two rows that
-- fold to one name make the unique index below fail: the migration stops rather than merging them.
UPDATE "users" SET "username_canonical" = lower(normalize("username", NFKC));--> statement-breakpoint
ALTER TABLE "users" ALTER COLUMN "username_canonical" SET NOT NULL;--> statement-breakpoint
DROP INDEX "users_username_lower_key";--> statement-breakpoint
CREATE UNIQUE INDEX "users_username_canonical_key" ON "users" USING btree ("username_canonical");
