import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import { checkFlow, type FieldError, type Flow } from '../shared/contract/index.ts';

/**
 * A flow's checks across steps (flow-check.ts) as the API answers them: field errors whose JSON
 * Pointers point into the request body, under `base` (`/flow` for a call, `/steps` for a saved flow).
 */
export function flowFieldErrors(config: Pick<Config, 'FLOW_CONTINUE_CONTEXTS'>, steps: Flow, base: string) {
  return checkFlow(steps, { continueContexts: config.FLOW_CONTINUE_CONTEXTS, base }).map(
    (problem): FieldError => ({
      path: `body${problem.pointer.replaceAll('/', '.')}`,
      pointer: problem.pointer,
      message: problem.message,
      code: problem.code,
    }),
  );
}

/** Throws the 422 for a flow that does not pass its checks; returns when it does. */
export function assertFlowRuns(config: Pick<Config, 'FLOW_CONTINUE_CONTEXTS'>, steps: Flow, base: string) {
  const errors = flowFieldErrors(config, steps, base);
  if (errors.length === 0) return;
  const shown = errors.slice(0, 3).map((e) => `${e.path}: ${e.message}`);
  const more = errors.length > 3 ? `; and ${errors.length - 3} more` : '';
  throw new ApiError('validation_error', `${shown.join('; ')}${more}`, { errors });
}
