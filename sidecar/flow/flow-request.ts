import type { FlowStep } from '../../api/shared/contract/index.ts';
import type { FlowRequester } from './request.ts';
import type { FlowState } from './state.ts';
import type { StepResult } from './step.ts';

type Request = Extract<FlowStep, { verb: 'request' }>;

/**
 * A request step: the answers so far go to the API, which asks the client; its steps become a new
 * segment that replaces the rest. On an error or no answer in time: the step's on_error, or the
 * flow fails.
 */
export async function runRequest(
  requester: FlowRequester,
  callId: string,
  state: FlowState,
  stepId: string | null,
  step: Request,
): Promise<StepResult> {
  const reply = await requester(
    {
      call_id: callId,
      run: state.run,
      segment: state.segment,
      step: state.step,
      step_id: stepId,
      answers: state.answers,
      answered_by: state.answeredBy,
    },
    step.timeout_ms,
  );
  if (reply.outcome === 'steps') return { segment: reply.steps, detail: `${reply.steps.length} step(s)` };
  if (step.on_error) return { jump: step.on_error, detail: reply.detail };
  return { end: { outcome: 'failed', detail: `request failed: ${reply.detail}` } };
}
