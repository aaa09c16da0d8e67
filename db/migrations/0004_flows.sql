CREATE TABLE "call_recordings" (
	"call_id" uuid NOT NULL,
	"name" text NOT NULL,
	"recording" text NOT NULL,
	"duration_ms" integer NOT NULL,
	"sidecar_id" text,
	"format" text DEFAULT 'wav' NOT NULL,
	"recorded_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "call_recordings_call_id_name_pk" PRIMARY KEY("call_id","name")
);
--> statement-breakpoint
CREATE TABLE "flow_versions" (
	"flow_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"steps" jsonb NOT NULL,
	"created_by" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"used_at" timestamp (3) with time zone,
	CONSTRAINT "flow_versions_flow_id_version_pk" PRIMARY KEY("flow_id","version"),
	CONSTRAINT "flow_versions_version_positive" CHECK ("flow_versions"."version" >= 1)
);
--> statement-breakpoint
CREATE TABLE "flows" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"latest_version" integer DEFAULT 1 NOT NULL,
	"archived_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "flows_name_length" CHECK (char_length("flows"."name") between 1 and 100)
);
--> statement-breakpoint
ALTER TABLE "call_events" ADD COLUMN "flow" jsonb;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "flow" jsonb;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "flow_id" uuid;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "flow_version" integer;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "answers" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "answered_by" text;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "flow_outcome" text;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "flow_ended_step" integer;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "flow_ended_step_id" text;--> statement-breakpoint
ALTER TABLE "calls" ADD COLUMN "flow_detail" text;--> statement-breakpoint
ALTER TABLE "call_recordings" ADD CONSTRAINT "call_recordings_call_id_calls_id_fk" FOREIGN KEY ("call_id") REFERENCES "public"."calls"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flow_versions" ADD CONSTRAINT "flow_versions_flow_id_flows_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flows"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flows" ADD CONSTRAINT "flows_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "call_recordings_recording_key" ON "call_recordings" USING btree ("recording");--> statement-breakpoint
CREATE INDEX "flows_owner_created_idx" ON "flows" USING btree ("owner_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "flows_created_idx" ON "flows" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
UPDATE "calls" SET "variables" = ("variables" #>> '{}')::jsonb WHERE jsonb_typeof("variables") = 'string';--> statement-breakpoint
UPDATE "calls" SET "status_callback_events" = ("status_callback_events" #>> '{}')::jsonb WHERE jsonb_typeof("status_callback_events") = 'string';--> statement-breakpoint
UPDATE "idempotency_keys" SET "response_body" = ("response_body" #>> '{}')::jsonb WHERE jsonb_typeof("response_body") = 'string';--> statement-breakpoint
UPDATE "audit_log" SET "details" = ("details" #>> '{}')::jsonb WHERE jsonb_typeof("details") = 'string';--> statement-breakpoint
UPDATE "sidecars" SET "public_key" = ("public_key" #>> '{}')::jsonb WHERE jsonb_typeof("public_key") = 'string';
