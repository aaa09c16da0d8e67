import { createRoute } from '@hono/zod-openapi';
import { addFlowVersion } from '../../../db/queries/flows.ts';
import { ApiError } from '../../errors.ts';
import { FlowVersionSchema } from '../../flows/bodies.ts';
import { assertFlowRuns } from '../../flows/check.ts';
import { presentFlowVersion } from '../../flows/present.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { auditFlow, FlowIdParamSchema, findFlow, NewFlowVersionBodySchema } from './schema.ts';

export const addFlowVersionRoute = createRoute({
  method: 'post',
  path: '/api/v2/flows/{flow_id}/versions',
  tags: ['Flows'],
  summary: 'Save a new version of a flow',
  description:
    'Saves the steps as the next version (the latest plus one) and makes it the latest: calls placed with ' +
    '`flow_id` alone use it from now on; calls already placed keep the version they ran. Versions that ' +
    'are saved at the same time get one number each. An archived flow takes no new version (409).',
  ...guarded('flows:write', 'admin', 'operator'),
  request: {
    params: FlowIdParamSchema,
    body: { required: true, content: { 'application/json': { schema: NewFlowVersionBodySchema } } },
  },
  responses: {
    201: { description: 'The new version', content: { 'application/json': { schema: FlowVersionSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503),
  },
});

export const registerAddFlowVersion = (app: App) =>
  app.openapi(addFlowVersionRoute, async (c) => {
    const body = c.req.valid('json');
    const services = c.get('services');
    const flow = await findFlow(c, c.req.valid('param').flow_id, 'write');
    assertFlowRuns(services.config, body.steps, '/steps');
    const added = await addFlowVersion(services.db, {
      flowId: flow.id,
      steps: body.steps,
      createdBy: c.get('user').id,
    });
    if (!added) throw new ApiError('flow_archived', 'The flow is archived: it takes no new version');
    await auditFlow(c, 'flow.version', flow.id, { version: added.version.version });
    return c.json(presentFlowVersion(added.version), 201);
  });
