DROP INDEX "campaign_contacts_due_idx";--> statement-breakpoint
CREATE INDEX "campaign_contacts_due_order_idx" ON "campaign_contacts" USING btree ("campaign_id","next_attempt_at","id") WHERE "campaign_contacts"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "campaign_contacts_campaign_idx" ON "campaign_contacts" USING btree ("campaign_id","id");