import { ERROR_CODES } from '../../api/errors.ts';
import type { WireResponse } from './client.ts';
import { type Operation, type RequestCase, UNKNOWN_FIELD_FLAW } from './requests.ts';
import type { Schemas } from './schema.ts';

/** What the request changed outside the HTTP answer. */
export interface Effects {
  originates: number;
  hangups: number;
  /** Commands the sidecar refused (a bad signature from the API). */
  refused: number;
  /** New call rows, when counted. */
  calls: number | null;
}

export interface Verdict {
  /** Properties that failed; empty when the answer is right. */
  failures: string[];
}

/** Something parses a body with a route's own (zod) schema; absent when only the document is at hand. */
export type RouteSchemaCheck = (op: string, status: number, body: unknown) => string | null;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Text that only an unhandled error, a query or a stack trace would put in an answer. */
const LEAKS: ReadonlyArray<[string, RegExp]> = [
  ['a stack frame', /\bat (?:[\w.<>$]+ )?\(?(?:file:\/\/)?\/[^\s)]+:\d+(?::\d+)?\)?/],
  ['a source path', /\/work\/|\/node_modules\/|\/src\/|\.ts:\d+/],
  ['a zod error', /ZodError|"issues"\s*:/],
  [
    'an error class',
    /\b(?:TypeError|ReferenceError|RangeError|URIError|SyntaxError|PostgresError|DrizzleError)\b/,
  ],
  ['SQL', /\b(?:select\s+[\w*",\s.]+\s+from|insert\s+into|update\s+"?\w+"?\s+set|delete\s+from)\b/i],
  [
    'a database error',
    /duplicate key value|violates \w+ constraint|relation "|syntax error at or near|out of range for type|invalid input syntax/i,
  ],
  ['a database name', /\b(?:pglite|postgres(?:ql)?:\/\/|drizzle)\b/i],
  ['a JSON parser message', /Unexpected token|JSON Parse error|Unexpected end of JSON|Malformed JSON/],
  [
    "a validator's wording",
    /\b(?:Invalid input|Invalid option|Invalid (?:string|ISO|UUID|URL)|Too (?:small|big)|Unrecognized keys?|expected|received)\b/,
  ],
  ['a password hash', /\$2[aby]\$\d{2}\$/],
  ['a private key', /"d"\s*:\s*"|BEGIN (?:RSA |EC |)PRIVATE KEY/],
];

function requestText(rc: RequestCase): string {
  // Escapes decoded run by run, as a server does, leaving the ones that are not UTF-8 as they are.
  const target = rc.target.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
  return [rc.target, target, rc.body ?? '', ...rc.headers.map(([, v]) => v)].join('\n');
}

/** Leaks in `text` that the request itself did not carry (an answer may quote what it refuses). */
export function leaks(text: string, rc: RequestCase, secrets: readonly string[], patterns = true): string[] {
  const out: string[] = [];
  for (const secret of secrets) if (secret && text.includes(secret)) out.push('a secret of the deployment');
  if (!patterns) return out;
  const sent = requestText(rc);
  for (const [what, re] of LEAKS) {
    const m = re.exec(text);
    if (m && !sent.includes(m[0])) out.push(`${what}: ${JSON.stringify(m[0].slice(0, 80))}`);
  }
  return out;
}

export interface OracleInput {
  op: Operation | null;
  rc: RequestCase;
  res: WireResponse;
  effects: Effects;
  schemas: Schemas;
  secrets: readonly string[];
  routeSchema?: RouteSchemaCheck;
  /** The operation places calls (and so may reach the sidecar with an originate). */
  originates: boolean;
  /** The operation hangs calls up. */
  hangsUp: boolean;
}

export function judge(input: OracleInput): Verdict {
  const { op, rc, res, effects, schemas } = input;
  const f: string[] = [];
  const status = res.status;
  const head = rc.method.toUpperCase() === 'HEAD';
  const type = res.headers.get('content-type') ?? '';
  const idHeader = res.headers.get('x-request-id');
  const invalid = rc.flaws.length > 0;

  if (status >= 500) f.push(`answered ${status}`);
  if (!idHeader) f.push('no X-Request-ID header');
  else if (rc.requestId && idHeader !== rc.requestId) f.push(`X-Request-ID ${idHeader} is not the one sent`);
  else if (!REQUEST_ID.test(idHeader)) f.push(`X-Request-ID ${JSON.stringify(idHeader)} is not a safe id`);

  let problem: Record<string, unknown> | null = null;
  if (status >= 400 && !head) {
    if (!type.startsWith('application/problem+json')) f.push(`an error as ${type || 'no content type'}`);
    try {
      problem = JSON.parse(res.body) as Record<string, unknown>;
    } catch {
      f.push('an error body that is not JSON');
    }
    if (problem) {
      const v = schemas.violation({ $ref: '#/components/schemas/Problem' }, problem);
      if (v) f.push(`not a Problem: ${v}`);
      for (const field of ['type', 'title', 'detail', 'code'] as const)
        if (typeof problem[field] !== 'string' || problem[field] === '') f.push(`problem without ${field}`);
      if (problem.status !== status) f.push(`problem status ${problem.status} is not ${status}`);
      if (problem.request_id !== idHeader)
        f.push(`problem request_id ${problem.request_id} is not ${idHeader}`);
      const known = ERROR_CODES[problem.code as keyof typeof ERROR_CODES];
      if (known && known.status !== status)
        f.push(`code ${problem.code} belongs to ${known.status}, not ${status}`);
    }
  } else if (status >= 400 && head && type && !type.startsWith('application/problem+json')) {
    f.push(`an error to HEAD as ${type}`);
  }

  // A method the path does not have: 405 with the path's methods in Allow; OPTIONS: 204 with them.
  if (rc.allow !== undefined) {
    const options = rc.method.toUpperCase() === 'OPTIONS';
    const want = options ? 204 : 405;
    if (status !== want) f.push(`${rc.method} on a path with routes answered ${status}, not ${want}`);
    else if (res.headers.get('allow') !== rc.allow)
      f.push(`Allow ${JSON.stringify(res.headers.get('allow'))}, not ${JSON.stringify(rc.allow)}`);
    if (!options && problem && problem.code !== 'method_not_allowed')
      f.push(`a 405 with code ${problem.code}, not method_not_allowed`);
  }

  // Members the route does not define, and nothing else wrong: a 400 naming each (or the role's 403).
  const unknownOnly = rc.flaws.length > 0 && rc.flaws.every((x) => x.startsWith(UNKNOWN_FIELD_FLAW));
  if (rc.unknownFields && unknownOnly && status !== 403) {
    if (status !== 400 || problem?.code !== 'unknown_field')
      f.push(
        `fields the route does not define answered ${status} ${problem?.code ?? ''}, not 400 unknown_field`,
      );
    else {
      const pointers = new Set(
        ((problem.errors as Array<{ pointer?: string }> | undefined) ?? []).map((e) => e.pointer),
      );
      for (const k of rc.unknownFields) {
        const pointer = `/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
        if (!pointers.has(pointer)) f.push(`the 400 does not point at ${JSON.stringify(pointer)}`);
      }
    }
  }

  if (status >= 200 && status < 300 && op && !invalid) {
    const documented = op.responses[String(status)];
    if (!documented) f.push(`${status} is not a documented answer of ${op.id}`);
    else if (!head) {
      const entry = Object.entries(documented).find(([t]) => type.startsWith(t));
      if (!entry) f.push(`${status} as ${type}, documented as ${Object.keys(documented).join(', ')}`);
      else if (entry[0].includes('json')) {
        let body: unknown;
        try {
          body = JSON.parse(res.body);
        } catch {
          f.push(`${status} body is not JSON`);
        }
        if (body !== undefined && entry[1]) {
          const v = schemas.violation(entry[1], body);
          if (v) f.push(`${status} body breaks the documented schema: ${v}`);
          const z = input.routeSchema?.(op.id, status, body);
          if (z) f.push(`${status} body breaks the route's schema: ${z}`);
        }
      }
    }
  }

  // Invalid by the document: refused. Reads (the safe methods: GET, HEAD, and OPTIONS, which only
  // says what a path allows, as for `/metrics/../openapi.json`, which the server reads as
  // `/openapi.json`) are judged only on their answers (a lenient reader changes nothing); everything
  // else must be refused outright.
  const read = ['GET', 'HEAD', 'OPTIONS'].includes(rc.method.toUpperCase());
  if (invalid && !read && (status < 400 || status >= 500))
    f.push(`invalid request (${rc.flaws.join('; ')}) answered ${status}`);

  // Nothing reaches the sidecar for an invalid request, nor from an operation that does not command it.
  const commanded = effects.originates + effects.hangups;
  if (invalid && commanded > 0) f.push(`invalid request reached the sidecar (${commanded} commands)`);
  if (!input.originates && effects.originates > 0) f.push(`${rc.op} sent ${effects.originates} originates`);
  if (!input.hangsUp && effects.hangups > 0) f.push(`${rc.op} sent ${effects.hangups} hangups`);
  if (effects.refused > 0) f.push(`the sidecar refused ${effects.refused} commands from the API`);
  if (input.originates && status >= 400 && effects.originates > 0)
    f.push(`refused with ${status} yet ${effects.originates} originates reached the sidecar`);
  if (input.hangsUp && status >= 400 && effects.hangups > 0)
    f.push(`refused with ${status} yet ${effects.hangups} hangups reached the sidecar`);
  if (effects.calls !== null) {
    if (!input.originates && effects.calls > 0) f.push(`${rc.op} created ${effects.calls} calls`);
    if (input.originates && (invalid || status >= 400) && effects.calls > 0)
      f.push(`refused or invalid, yet ${effects.calls} call rows were created`);
    if (input.originates && status >= 200 && status < 300) {
      const replayed = res.headers.get('idempotent-replayed') === 'true';
      const want = replayed ? 0 : 1;
      if (effects.calls !== want)
        f.push(`${replayed ? 'a replay' : 'an accepted call'} created ${effects.calls} call rows`);
      if (effects.originates !== want)
        f.push(`${replayed ? 'a replay' : 'an accepted call'} sent ${effects.originates} originates`);
    }
  }

  // Successful answers hold stored data that earlier requests may have filled with anything;
  // only secrets are looked for there.
  const leaked = leaks(res.body, rc, input.secrets, status < 200 || status >= 300);
  for (const l of leaked) f.push(`the answer shows ${l}`);
  return { failures: f };
}
