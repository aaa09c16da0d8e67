import { getFlowForReader, getFlowVersion } from '../../db/queries/flows.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import type { Flow } from '../shared/contract/index.ts';
import { assertFlowRuns, flowFieldErrors } from './check.ts';

/** What a call asks to run: its own steps, or a saved flow (by id, and version or the latest). */
export interface CallFlowRequest {
  flow?: Flow | undefined;
  flowId?: string | undefined;
  flowVersion?: number | undefined;
}

/** The steps a call runs, and the saved flow's version they come from. */
export interface CallFlow {
  steps: Flow;
  flowId: string | null;
  flowVersion: number | null;
}

const refuse = (errors: Array<{ path: string; message: string; code: string }>) =>
  new ApiError('validation_error', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });

/**
 * Checks what a call's body says about its flow and finds the steps. `owner` is whose saved flows the
 * caller may use (null: any). A flow the caller cannot see answers 404 as one that does not exist; an
 * archived one 409. Nothing is written here: the version is marked used with the call's insert.
 */
export async function resolveCallFlow(
  services: Pick<Services, 'db' | 'config'>,
  request: CallFlowRequest,
  owner: string | null,
): Promise<CallFlow | null> {
  if (request.flow !== undefined && request.flowId !== undefined) {
    const message = 'give either flow (the steps) or flow_id (a saved flow), not both';
    throw refuse([
      { path: 'body.flow', message, code: 'conflict' },
      { path: 'body.flow_id', message, code: 'conflict' },
    ]);
  }
  if (request.flowVersion !== undefined && request.flowId === undefined) {
    throw refuse([{ path: 'body.flow_version', message: 'needs flow_id', code: 'required_with' }]);
  }
  if (request.flow !== undefined) {
    assertFlowRuns(services.config, request.flow, '/flow');
    return { steps: request.flow, flowId: null, flowVersion: null };
  }
  if (request.flowId === undefined) return null;

  const flow = await getFlowForReader(services.db, request.flowId, owner);
  if (!flow) throw new ApiError('flow_not_found', 'Flow not found');
  if (flow.archivedAt) {
    throw new ApiError('flow_archived', 'The flow is archived: it takes no new calls', {
      errors: [{ path: 'body.flow_id', message: 'is an archived flow', code: 'archived' }],
    });
  }
  const number = request.flowVersion ?? flow.latestVersion;
  const version = await getFlowVersion(services.db, flow.id, number);
  if (!version) {
    throw refuse([
      {
        path: 'body.flow_version',
        message: `the flow has versions 1 to ${flow.latestVersion}`,
        code: 'not_found',
      },
    ]);
  }
  const steps = version.steps as Flow;
  // Saved steps passed their checks when saved; the allowed contexts may have changed since.
  const problems = flowFieldErrors(services.config, steps, `/steps`);
  if (problems.length > 0) {
    throw refuse([
      {
        path: 'body.flow_id',
        message: `version ${number} of this flow no longer passes its checks (${problems[0]!.pointer}: ${problems[0]!.message})`,
        code: 'flow_invalid',
      },
    ]);
  }
  return { steps, flowId: flow.id, flowVersion: number };
}
