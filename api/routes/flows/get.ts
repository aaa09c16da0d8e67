import { createRoute } from '@hono/zod-openapi';
import { getFlowVersion, listFlowVersions } from '../../../db/queries/flows.ts';
import { ApiError } from '../../errors.ts';
import { FlowDetailSchema } from '../../flows/bodies.ts';
import { presentFlow, presentVersionSummary } from '../../flows/present.ts';
import type { Flow } from '../../shared/contract/index.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { FlowIdParamSchema, findFlow } from './schema.ts';

export const getFlowRoute = createRoute({
  method: 'get',
  path: '/api/v2/flows/{flow_id}',
  tags: ['Flows'],
  summary: 'Get a saved flow',
  description:
    'The flow with the steps of its latest version and a list of every version. Flows of other users answer ' +
    '404 (admins and viewers see every flow).',
  ...guarded('flows:read'),
  request: { params: FlowIdParamSchema },
  responses: {
    200: { description: 'The flow', content: { 'application/json': { schema: FlowDetailSchema } } },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerGetFlow = (app: App) =>
  app.openapi(getFlowRoute, async (c) => {
    const flow = await findFlow(c, c.req.valid('param').flow_id, 'read');
    const db = c.get('services').db;
    const [latest, versions] = await Promise.all([
      getFlowVersion(db, flow.id, flow.latestVersion),
      listFlowVersions(db, flow.id),
    ]);
    if (!latest) throw new ApiError('flow_not_found', 'Flow not found');
    return c.json(
      {
        ...presentFlow(flow),
        steps: latest.steps as Flow,
        versions: versions.map(presentVersionSummary),
      },
      200,
    );
  });
