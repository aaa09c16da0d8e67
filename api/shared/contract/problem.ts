/**
 * RFC 9457 problem details, as both the API and the sidecar answer an error: `type`, `title`,
 * `status`, `detail` and `code`, plus what each side adds (the API's `request_id` and `instance`,
 * `errors` for a refused field, `retry_after`).
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** A problem's `type`: a URN made from its code, `urn:outdial:problem:call-not-found`. */
export function problemType(code: string): string {
  return `urn:outdial:problem:${code.replaceAll('_', '-')}`;
}

/** One refused field of a request. */
export interface FieldError {
  /** Where in the request: `body.phone_number`, `query.limit`, `path.call_id`, … */
  path: string;
  /** For a body or form field: a JSON Pointer (RFC 6901) to it, such as `/variables/FOO`. */
  pointer?: string;
  /** For a query, path or header parameter: its name. */
  parameter?: string;
  message: string;
  code: string;
}

export interface Problem<Code extends string = string> {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: Code;
  request_id?: string | null;
  instance?: string;
  errors?: Array<FieldError | { path: string; message: string }>;
  retry_after?: number;
}
