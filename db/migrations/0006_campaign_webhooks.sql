ALTER TABLE "webhook_deliveries" ALTER COLUMN "call_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ALTER COLUMN "event_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "status_callback" text;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "status_callback_events" jsonb;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN "campaign_id" uuid;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN "window_key" text;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_campaign_idx" ON "webhook_deliveries" USING btree ("campaign_id","id") WHERE "webhook_deliveries"."campaign_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_window_key" ON "webhook_deliveries" USING btree ("window_key");--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_one_owner" CHECK (("webhook_deliveries"."call_id" is not null and "webhook_deliveries"."event_id" is not null and "webhook_deliveries"."campaign_id" is null)
        or ("webhook_deliveries"."call_id" is null and "webhook_deliveries"."event_id" is null and "webhook_deliveries"."campaign_id" is not null));