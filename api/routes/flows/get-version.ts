import { createRoute } from '@hono/zod-openapi';
import { getFlowVersion } from '../../../db/queries/flows.ts';
import { ApiError } from '../../errors.ts';
import { FlowVersionSchema } from '../../flows/bodies.ts';
import { presentFlowVersion } from '../../flows/present.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { FlowVersionParamSchema, findFlow } from './schema.ts';

export const getFlowVersionRoute = createRoute({
  method: 'get',
  path: '/api/v2/flows/{flow_id}/versions/{version}',
  tags: ['Flows'],
  summary: 'Get one version of a saved flow',
  description: 'The steps of that version, as calls placed with it ran them. A version never changes.',
  ...guarded('flows:read'),
  request: { params: FlowVersionParamSchema },
  responses: {
    200: { description: 'The version', content: { 'application/json': { schema: FlowVersionSchema } } },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerGetFlowVersion = (app: App) =>
  app.openapi(getFlowVersionRoute, async (c) => {
    const { flow_id, version } = c.req.valid('param');
    const flow = await findFlow(c, flow_id, 'read');
    const row = await getFlowVersion(c.get('services').db, flow.id, version);
    if (!row) throw new ApiError('flow_not_found', `The flow has no version ${version}`);
    return c.json(presentFlowVersion(row), 200);
  });
