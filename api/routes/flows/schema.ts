import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type FlowRow, getFlowForReader } from '../../../db/queries/flows.ts';
import { writeAudit } from '../../../db/queries/misc.ts';
import { ApiError } from '../../errors.ts';
import { readableFlowsOwner, writableFlowsOwner } from '../../flows/access.ts';
import { FlowSchema, FlowStepsSchema } from '../../flows/bodies.ts';
import type { AppEnv } from '../../services.ts';
import { PageLimitSchema, pageCursorSchema, strictBody } from '../openapi.ts';

/** Request schemas of /api/v2/flows, and what its routes share: finding a flow, auditing a change. */

export const FlowIdParamSchema = z.object({
  flow_id: z.uuid('must be a UUID').openapi({
    param: { name: 'flow_id', in: 'path' },
    description: 'The flow id',
    example: '0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10',
  }),
});

export const FlowVersionParamSchema = FlowIdParamSchema.extend({
  version: z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/, 'must be a version number (1, 2, …)')
    .transform(Number)
    .openapi({
      param: { name: 'version', in: 'path' },
      type: 'integer',
      minimum: 1,
      description: 'The version number',
      example: 1,
    }),
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const NO_CONTROL = /^[^\x00-\x1f\x7f-\x9f]*$/;

export const CreateFlowBodySchema = strictBody({
  name: z
    .string()
    .min(1)
    .max(100)
    .regex(NO_CONTROL, 'must not contain control characters')
    .openapi({ description: 'A name for people (1 to 100 characters)', example: 'Appointment reminder' }),
  description: z
    .string()
    .max(1000)
    .regex(NO_CONTROL, 'must not contain control characters')
    .optional()
    .openapi({ description: 'What it is for (at most 1000 characters)', example: 'Press 1 to confirm' }),
  steps: FlowStepsSchema,
}).openapi('CreateFlowRequest');

export const NewFlowVersionBodySchema = strictBody({ steps: FlowStepsSchema }).openapi(
  'NewFlowVersionRequest',
);

export const ListFlowsQuerySchema = z.object({
  include_archived: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .optional()
    .openapi({
      param: { name: 'include_archived', in: 'query' },
      description: 'Also list archived flows (default false)',
      example: 'false',
    }),
  limit: PageLimitSchema,
  cursor: pageCursorSchema('eyJ0IjoiMjAyNi0xMS0yM1QxNToyMzo1MS4yMTNaIiwiaSI6IjBiN2Q2ZjBlIn0'),
});

export const FlowListSchema = z
  .object({
    items: z.array(FlowSchema).openapi({ description: 'Flows, newest first' }),
    next_cursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; null on the last page', example: null }),
  })
  .openapi('FlowList');

/**
 * The flow if the caller may read it (`for: 'read'`) or change it (`for: 'write'`). A flow of another
 * user answers the same 404 as one that does not exist, so ids do not tell.
 */
export async function findFlow(
  c: Context<AppEnv>,
  flowId: string,
  purpose: 'read' | 'write',
): Promise<FlowRow> {
  const user = c.get('user');
  const owner = purpose === 'read' ? readableFlowsOwner(user) : writableFlowsOwner(user);
  const flow = await getFlowForReader(c.get('services').db, flowId, owner);
  if (!flow) throw new ApiError('flow_not_found', 'Flow not found');
  return flow;
}

export async function auditFlow(
  c: Context<AppEnv>,
  action: 'flow.create' | 'flow.version' | 'flow.archive',
  flowId: string,
  details: Record<string, unknown>,
) {
  const services = c.get('services');
  await writeAudit(services.db, {
    actorId: c.get('user').id,
    actorKeyId: c.get('user').keyId,
    action,
    targetType: 'flow',
    targetId: flowId,
    clientAddress: services.clientAddress(c),
    requestId: c.get('requestId'),
    details,
  });
}
