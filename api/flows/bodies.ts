import { z } from '@hono/zod-openapi';
import {
  ANSWERED_BY,
  FLOW_EXAMPLE,
  FLOW_MAX_STEPS,
  FLOW_MEDIA_SCHEMES,
  FLOW_VERBS,
  FlowStep,
} from '../shared/contract/index.ts';

/**
 * The bodies the API takes and answers about flows: a flow's steps (the contract's schema, described
 * for the document), a saved flow and its versions. Routes declare them; present.ts builds them.
 */

// The contract's Flow, made again here: a zod schema has `.openapi()` only when it was created after
// @hono/zod-openapi extended zod, which the contract (imported first by the sidecar and by some
// entry points) cannot rely on.
export const FlowStepsSchema = z
  .array(FlowStep)
  .min(1)
  .max(FLOW_MAX_STEPS)
  .openapi('Flow', {
    description:
      `What the call does once answered: 1 to ${FLOW_MAX_STEPS} steps, run from the first, each going on to the ` +
      `next unless it jumps. Verbs: ${FLOW_VERBS.join(', ')}. Media are ARI media URIs (${FLOW_MEDIA_SCHEMES.join(', ')}). ` +
      'Step ids and answer names start with a letter. A branch reads an answer a gather, record or set step gives, ' +
      `or \`answered_by\` (${ANSWERED_BY.join(', ')}, after an amd step). Refused with a JSON Pointer to the step: ` +
      'jumps to missing ids, duplicate ids, steps no path reaches, loops with no gather, record, amd or request ' +
      'step (they would run without the callee), `continue` to a context outside FLOW_CONTINUE_CONTEXTS.',
    example: FLOW_EXAMPLE,
  });

const iso = (description: string) =>
  z.iso.datetime({ offset: true }).openapi({ description, example: '2026-11-23T15:23:51.213Z' });

export const FlowVersionSummarySchema = z
  .object({
    version: z.number().int().openapi({ description: 'The version number (1, 2, …)', example: 1 }),
    created_at: iso('When this version was saved'),
    used_at: iso('When a call first used it; a used version is kept as it is').nullable(),
    step_count: z.number().int().openapi({ description: 'How many steps it has', example: 5 }),
  })
  .openapi('FlowVersionSummary');

const flowFields = {
  flow_id: z.uuid().openapi({ description: 'The flow id', example: '0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10' }),
  name: z.string().openapi({ description: 'Its name', example: 'Appointment reminder' }),
  description: z.string().nullable().openapi({ description: 'What it is for', example: null }),
  owner_id: z.uuid().openapi({
    description: 'The user who created it',
    example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b',
  }),
  latest_version: z.number().int().openapi({ description: 'The newest version', example: 1 }),
  archived: z.boolean().openapi({ description: 'Archived flows take no new calls', example: false }),
  archived_at: iso('When it was archived').nullable(),
  created_at: iso('When it was created'),
  updated_at: iso('Last change (a new version or the archive)'),
};

export const FlowSchema = z.object(flowFields).openapi('FlowSummary');

// One object rather than an extension of FlowSummary, so that the document states it whole.
export const FlowDetailSchema = z
  .object({
    ...flowFields,
    /** The steps of the latest version. */
    steps: FlowStepsSchema,
    versions: z.array(FlowVersionSummarySchema).openapi({ description: 'Every version, oldest first' }),
  })
  .openapi('FlowDetail');

export const FlowVersionSchema = z
  .object({
    flow_id: z
      .uuid()
      .openapi({ description: 'The flow id', example: '0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10' }),
    version: z.number().int().openapi({ description: 'The version number', example: 2 }),
    steps: FlowStepsSchema,
    created_at: iso('When this version was saved'),
    used_at: iso('When a call first used it').nullable(),
  })
  .openapi('FlowVersion');
