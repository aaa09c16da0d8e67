import { createRoute } from '@hono/zod-openapi';
import { createFlow } from '../../../db/queries/flows.ts';
import { FlowVersionSchema } from '../../flows/bodies.ts';
import { assertFlowRuns } from '../../flows/check.ts';
import { presentFlowVersion } from '../../flows/present.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { auditFlow, CreateFlowBodySchema } from './schema.ts';

export const createFlowRoute = createRoute({
  method: 'post',
  path: '/api/v2/flows',
  tags: ['Flows'],
  summary: 'Save a flow',
  description:
    'Saves a flow as version 1, owned by the caller. Calls use it with `flow_id`. The steps are checked as a ' +
    'call’s `flow` is: a 422 points at the bad step with a JSON Pointer into this body (`/steps/3/to`).',
  ...guarded('flows:write', 'admin', 'operator'),
  request: { body: { required: true, content: { 'application/json': { schema: CreateFlowBodySchema } } } },
  responses: {
    201: {
      description: 'The flow’s first version',
      content: { 'application/json': { schema: FlowVersionSchema } },
    },
    ...errorResponses(400, 401, 403, 413, 415, 422, 500, 503),
  },
});

export const registerCreateFlow = (app: App) =>
  app.openapi(createFlowRoute, async (c) => {
    const body = c.req.valid('json');
    const services = c.get('services');
    assertFlowRuns(services.config, body.steps, '/steps');
    const { flow, version } = await createFlow(services.db, {
      ownerId: c.get('user').id,
      name: body.name,
      description: body.description ?? null,
      steps: body.steps,
    });
    await auditFlow(c, 'flow.create', flow.id, { name: flow.name, version: 1 });
    return c.json(presentFlowVersion(version), 201);
  });
