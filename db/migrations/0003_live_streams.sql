CREATE TABLE "live_streams" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"opened_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
-- Backfill (hand-written): events recorded before this migration take their call's owner. On a large
-- call_events table this statement can outlast DATABASE_QUERY_TIMEOUT_MS: run `npm run db:migrate`
-- (no bound) as a deploy step first.
ALTER TABLE "call_events" ADD COLUMN "owner_id" uuid;--> statement-breakpoint
UPDATE "call_events" SET "owner_id" = "calls"."owner_id" FROM "calls" WHERE "calls"."id" = "call_events"."call_id";--> statement-breakpoint
ALTER TABLE "call_events" ALTER COLUMN "owner_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "live_streams" ADD CONSTRAINT "live_streams_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "live_streams_user_idx" ON "live_streams" USING btree ("user_id","expires_at");--> statement-breakpoint
CREATE INDEX "call_events_owner_id_idx" ON "call_events" USING btree ("owner_id","id");