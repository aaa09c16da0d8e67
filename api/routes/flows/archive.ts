import { createRoute } from '@hono/zod-openapi';
import { archiveFlow } from '../../../db/queries/flows.ts';
import { ApiError } from '../../errors.ts';
import { FlowSchema } from '../../flows/bodies.ts';
import { presentFlow } from '../../flows/present.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { auditFlow, FlowIdParamSchema, findFlow } from './schema.ts';

export const archiveFlowRoute = createRoute({
  method: 'post',
  path: '/api/v2/flows/{flow_id}/archive',
  tags: ['Flows'],
  summary: 'Archive a flow',
  description:
    'An archived flow takes no new calls and no new version, and leaves the list unless ' +
    '`include_archived=true`. Its versions stay readable, and calls already placed with it run on. ' +
    'Archiving it again changes nothing. Flows are never deleted: calls name the versions they ran.',
  ...guarded('flows:write', 'admin', 'operator'),
  request: { params: FlowIdParamSchema },
  responses: {
    200: { description: 'The archived flow', content: { 'application/json': { schema: FlowSchema } } },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerArchiveFlow = (app: App) =>
  app.openapi(archiveFlowRoute, async (c) => {
    const flow = await findFlow(c, c.req.valid('param').flow_id, 'write');
    const archived = await archiveFlow(c.get('services').db, flow.id);
    if (!archived) throw new ApiError('flow_not_found', 'Flow not found');
    if (!flow.archivedAt) await auditFlow(c, 'flow.archive', flow.id, {});
    return c.json(presentFlow(archived), 200);
  });
