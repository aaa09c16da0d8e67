import { PROBLEM_CONTENT_TYPE, type Problem, problemType } from '../contract/problem.ts';

/**
 * The one builder of problem+json answers (RFC 9457), for the API and the sidecar alike: each side
 * keeps its own codes and titles, and both answer in the same form.
 */

export interface ProblemInit<Code extends string = string> {
  status: number;
  code: Code;
  title: string;
  detail: string;
}

/** The body: `type` (from the code), `title`, `status`, `detail`, `code`, then what `extra` adds. */
export function problemBody<Code extends string, Extra extends Partial<Problem<Code>>>(
  init: ProblemInit<Code>,
  extra?: Extra,
): Problem<Code> & Extra {
  return {
    type: problemType(init.code),
    title: init.title,
    status: init.status,
    detail: init.detail,
    code: init.code,
    ...(extra as Extra),
  };
}

/** The response: the body as application/problem+json, with its status and any headers given. */
export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, ...headers },
  });
}
