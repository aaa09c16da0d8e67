CREATE TABLE "campaign_attempts" (
	"call_id" uuid PRIMARY KEY NOT NULL,
	"campaign_id" uuid NOT NULL,
	"contact_id" bigint NOT NULL,
	"attempt" integer NOT NULL,
	"sidecar_id" text,
	"leased_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"lease_expires_at" timestamp (3) with time zone NOT NULL,
	"outcome" text,
	"ended_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "campaign_contacts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "campaign_contacts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"campaign_id" uuid NOT NULL,
	"phone_number" text NOT NULL,
	"timezone" text,
	"variables" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"attempts_today" integer DEFAULT 0 NOT NULL,
	"attempts_day" text,
	"next_attempt_at" timestamp (3) with time zone,
	"last_call_id" uuid,
	"last_outcome" text,
	"final_outcome" text,
	"answered_by" text,
	"source_row" integer,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "campaign_contacts_state_valid" CHECK ("campaign_contacts"."state" in ('pending', 'in_progress', 'done', 'dnc', 'canceled'))
);
--> statement-breakpoint
CREATE TABLE "campaign_counters" (
	"campaign_id" uuid NOT NULL,
	"name" text NOT NULL,
	"value" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "campaign_counters_campaign_id_name_pk" PRIMARY KEY("campaign_id","name")
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_id" uuid NOT NULL,
	"name" text NOT NULL,
	"state" text DEFAULT 'draft' NOT NULL,
	"flow_id" uuid,
	"flow_version" integer,
	"context" text,
	"extension" text,
	"priority" integer,
	"caller_id" text,
	"timezone" text NOT NULL,
	"windows" jsonb NOT NULL,
	"starts_at" timestamp (3) with time zone,
	"ends_at" timestamp (3) with time zone,
	"retry" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"max_attempts_per_day" integer DEFAULT 1 NOT NULL,
	"cps" integer DEFAULT 1 NOT NULL,
	"max_concurrent" integer DEFAULT 10 NOT NULL,
	"ring_timeout_ms" integer DEFAULT 30000 NOT NULL,
	"variables" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"next_lease_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	CONSTRAINT "campaigns_state_valid" CHECK ("campaigns"."state" in ('draft', 'running', 'paused', 'completed', 'canceled')),
	CONSTRAINT "campaigns_name_length" CHECK (char_length("campaigns"."name") between 1 and 100),
	CONSTRAINT "campaigns_pacing_positive" CHECK ("campaigns"."cps" >= 1 and "campaigns"."max_concurrent" >= 1)
);
--> statement-breakpoint
CREATE TABLE "dnc_numbers" (
	"phone_number" text PRIMARY KEY NOT NULL,
	"source" text DEFAULT 'api' NOT NULL,
	"note" text,
	"added_by" uuid,
	"added_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "campaign_id" uuid;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "contact_id" bigint;--> statement-breakpoint
ALTER TABLE "campaign_attempts" ADD CONSTRAINT "campaign_attempts_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_attempts" ADD CONSTRAINT "campaign_attempts_contact_id_campaign_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."campaign_contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_contacts" ADD CONSTRAINT "campaign_contacts_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_counters" ADD CONSTRAINT "campaign_counters_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "campaign_attempts_contact_attempt_key" ON "campaign_attempts" USING btree ("contact_id","attempt");--> statement-breakpoint
CREATE INDEX "campaign_attempts_open_idx" ON "campaign_attempts" USING btree ("lease_expires_at") WHERE "campaign_attempts"."outcome" is null;--> statement-breakpoint
CREATE INDEX "campaign_attempts_campaign_idx" ON "campaign_attempts" USING btree ("campaign_id","leased_at");--> statement-breakpoint
CREATE UNIQUE INDEX "campaign_contacts_number_key" ON "campaign_contacts" USING btree ("campaign_id","phone_number");--> statement-breakpoint
CREATE INDEX "campaign_contacts_due_idx" ON "campaign_contacts" USING btree ("campaign_id","next_attempt_at") WHERE "campaign_contacts"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "campaign_contacts_state_idx" ON "campaign_contacts" USING btree ("campaign_id","state","id");--> statement-breakpoint
CREATE INDEX "campaigns_owner_created_idx" ON "campaigns" USING btree ("owner_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "campaigns_created_idx" ON "campaigns" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "campaigns_running_idx" ON "campaigns" USING btree ("next_lease_at") WHERE "campaigns"."state" = 'running';--> statement-breakpoint
CREATE INDEX "dnc_numbers_added_idx" ON "dnc_numbers" USING btree ("added_at" DESC NULLS LAST,"phone_number" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "calls_campaign_contact_idx" ON "calls" USING btree ("campaign_id","contact_id") WHERE "calls"."campaign_id" is not null;