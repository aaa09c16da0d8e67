import fc from 'fast-check';
import type { WireRequest } from './client.ts';
import { HOSTILE_STRINGS, hostileStrings, RAW_SEGMENTS } from './hostile.ts';
import type { JsonSchema, SchemaDocument, Schemas } from './schema.ts';

/**
 * Requests generated from the OpenAPI document, each labelled with what makes it invalid by the
 * document (`flaws`) or what the document leaves open (`unsure`). A request with no flaw and
 * nothing unsure is valid by the document; the server may still refuse it for a rule the
 * document only describes in words (an allowed context, a role), but never with a 5xx.
 */

export interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  /** `METHOD /path/{template}` */
  id: string;
  method: string;
  path: string;
  params: Param[];
  body: { required: boolean; content: Record<string, JsonSchema> } | null;
  security: 'bearer' | 'sidecar' | null;
  /** Status → content type → schema. */
  responses: Record<string, Record<string, JsonSchema | undefined>>;
}

export interface OpenApiDocument extends SchemaDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

interface OpenApiOperation {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema: JsonSchema }>;
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export function operations(doc: OpenApiDocument): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
      out.push({
        id: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).map((p) => ({
          name: p.name,
          in: p.in as Param['in'],
          required: p.required ?? p.in === 'path',
          schema: p.schema,
        })),
        body: op.requestBody
          ? {
              required: op.requestBody.required ?? false,
              content: Object.fromEntries(
                Object.entries(op.requestBody.content).map(([type, c]) => [type, c.schema]),
              ),
            }
          : null,
        security: schemes.includes('sidecarSignature')
          ? 'sidecar'
          : schemes.includes('bearerAuth')
            ? 'bearer'
            : null,
        responses: Object.fromEntries(
          Object.entries(op.responses).map(([status, r]) => [
            status,
            Object.fromEntries(Object.entries(r.content ?? {}).map(([type, c]) => [type, c.schema])),
          ]),
        ),
      });
    }
  }
  return out;
}

/** Valid tokens of each role, and a valid API key of the admin with every scope. */
export const ROLE_CREDENTIALS = ['admin', 'operator', 'viewer', 'admin-key'] as const;
/** Everything else a client can put in Authorization for a user route. */
export const BAD_USER_CREDENTIALS = [
  'none',
  'garbage',
  'empty-bearer',
  'basic',
  'no-scheme',
  'lowercase-scheme-garbage',
  'expired',
  'not-yet-valid',
  'forged',
  'alg-none',
  'hs256',
  'wrong-audience',
  'wrong-issuer',
  'unknown-kid',
  'tampered',
  'revoked',
  'deactivated',
  'unknown-user',
  'old-version',
  'huge',
  'two-tokens',
  'key-revoked',
  'key-expired',
  'key-of-deactivated',
  'key-wrong-secret',
  'key-truncated',
  'key-unknown',
  'key-wrong-prefix',
  'key-non-ascii',
  'key-huge',
] as const;
/** A batch signed by the sidecar's key over the exact body. */
export const SIDECAR_CREDENTIALS = ['sidecar'] as const;
export const BAD_SIDECAR_CREDENTIALS = [
  'sidecar-other-body',
  'sidecar-expired',
  'sidecar-wrong-key',
  'sidecar-unknown-id',
  'sidecar-wrong-path',
  'sidecar-as-command',
] as const;

export type Credential =
  | (typeof ROLE_CREDENTIALS)[number]
  | (typeof BAD_USER_CREDENTIALS)[number]
  | (typeof SIDECAR_CREDENTIALS)[number]
  | (typeof BAD_SIDECAR_CREDENTIALS)[number];

export interface RequestCase extends WireRequest {
  op: string;
  credential: Credential;
  /** Why the document says this request is invalid ([] when it is valid). */
  flaws: string[];
  /** What the document leaves open about this request. */
  unsure: string[];
  /** The X-Request-ID sent, when it is one the API keeps. */
  requestId: string | null;
  /**
   * Set when the method is one the path does not have (or OPTIONS): the answer must be a 405 (204
   * to OPTIONS) with exactly this Allow header.
   */
  allow?: string;
  /** Members of a JSON body the route does not define: the answer must be a 400 naming each. */
  unknownFields?: string[];
}

/** Values the server knows, to reach past "not found": ids of calls and users, logins. */
export interface Pools {
  call_id: readonly string[];
  user_id: readonly string[];
  flow_id: readonly string[];
  campaign_id: readonly string[];
  /** Numbers on the do-not-call list. */
  phone_number: readonly string[];
  /** Names of the recordings the calls in call_id have. */
  name: readonly string[];
  /** API keys to aim at (of the operator and of the admin). */
  key_id: readonly string[];
  /** Version numbers the flows in flow_id have. */
  version: readonly string[];
  logins: ReadonlyArray<{ username: string; password: string }>;
  sidecarId: string;
}

interface Part<T> {
  v: T;
  flaws: string[];
  unsure: string[];
}

const part = <T>(v: T, flaws: string[] = [], unsure: string[] = []): Part<T> => ({ v, flaws, unsure });

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function tryDecode(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

function encodeSegment(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    // A lone surrogate: send the bytes its UTF-8 encoding would have had.
    return [...v]
      .map((ch) => {
        try {
          return encodeURIComponent(ch);
        } catch {
          return '%ED%A0%80';
        }
      })
      .join('');
  }
}

/** What a query or path value on the wire means for a schema: numbers and booleans are parsed. */
function wireValue(schema: JsonSchema, s: Schemas, raw: string): unknown {
  const t = s.resolve(schema).type;
  const types = t === undefined ? [] : [t].flat();
  if (
    (types.includes('integer') || types.includes('number')) &&
    /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(raw)
  )
    return Number(raw);
  if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  return raw;
}

/** Header values as they arrive: fetch and servers strip surrounding whitespace. */
function headerSafe(v: string): boolean {
  return [...v].every((c) => {
    const code = c.codePointAt(0)!;
    return (
      code <= 0xff &&
      code !== 0 &&
      code !== 10 &&
      code !== 13 &&
      (code >= 0x20 || code === 9) &&
      code !== 0x7f
    );
  });
}

export interface GeneratorOptions {
  schemas: Schemas;
  pools: Pools;
  /** A valid body of this operation, shaped to reach past "not found" and "not allowed" more often. */
  shapeBody?: (op: Operation, body: fc.Arbitrary<unknown>) => fc.Arbitrary<unknown>;
}

export class RequestGenerator {
  private readonly s: Schemas;

  constructor(private readonly options: GeneratorOptions) {
    this.s = options.schemas;
  }

  /** Requests for one operation: valid ones, and ones broken in one part or in several. */
  forOperation(op: Operation): fc.Arbitrary<RequestCase> {
    const hasPath = op.params.some((p) => p.in === 'path');
    const hasQuery = op.params.some((p) => p.in === 'query');
    const hasHeader = op.params.some((p) => p.in === 'header');
    const variants: Array<{ weight: number; arbitrary: fc.Arbitrary<RequestCase> }> = [
      { weight: 5, arbitrary: this.build(op, {}) },
      { weight: op.security ? 3 : 1, arbitrary: this.build(op, { credential: true }) },
      { weight: 1, arbitrary: this.build(op, { method: true }) },
      {
        weight: 1,
        arbitrary: this.build(op, { credential: true, path: hasPath, body: !!op.body, query: hasQuery }),
      },
    ];
    if (hasPath) variants.push({ weight: 3, arbitrary: this.build(op, { path: true }) });
    if (hasQuery) variants.push({ weight: 2, arbitrary: this.build(op, { query: true }) });
    if (hasHeader) variants.push({ weight: 1, arbitrary: this.build(op, { header: true }) });
    if (op.body) variants.push({ weight: 4, arbitrary: this.build(op, { body: true }) });
    else variants.push({ weight: 1, arbitrary: this.build(op, { body: true }) });
    return fc.oneof(...variants);
  }

  /** Requests to paths the document does not have. */
  undocumented(): fc.Arbitrary<RequestCase> {
    const path = fc.oneof(
      fc.constantFrom(
        '/api/v2/nope',
        '/api/v3/calls',
        '/api/v2/calls/',
        '/api/v2//calls',
        '/API/V2/CALLS',
        '/api/v2/calls.json',
        '/api/v2/users/me/../../admin',
        '/../../etc/passwd',
        '/%2e%2e/%2e%2e/etc/passwd',
        '/api/v2/calls%00',
        '/api/v2/calls;jsessionid=1',
        '/.env',
        '/.git/config',
        '/server-status',
        '/api/v2/sidecar/events/..',
        '/metrics/../openapi.json',
        `/${'a/'.repeat(500)}`,
      ),
      fc
        .array(fc.oneof(fc.constantFrom(...RAW_SEGMENTS), hostileStrings().map(encodeSegment)), {
          minLength: 1,
          maxLength: 5,
        })
        .map((segs) => `/api/v2/${segs.join('/')}`),
    );
    return fc
      .tuple(
        path,
        fc.constantFrom(
          'GET',
          'POST',
          'PUT',
          'DELETE',
          'PATCH',
          'OPTIONS',
          'HEAD',
          'TRACE',
          'PROPFIND',
          'FOO',
        ),
        fc.constantFrom<Credential>('admin', 'operator', 'none', 'garbage'),
        this.requestIdPart(),
        fc.option(fc.constantFrom('{"a":1}', 'x=1', '<a/>'), { nil: undefined }),
      )
      .map(([target, method, credential, rid, body]) => {
        const headers: Array<[string, string]> = [];
        if (rid.v) headers.push(['X-Request-ID', rid.v]);
        if (body) headers.push(['Content-Type', 'application/json']);
        const rawNeeded =
          /(^|\/)(\.|%2e){1,2}(\/|$)/i.test(target) ||
          RAW_METHODS.has(method) ||
          (body !== undefined && ['GET', 'HEAD'].includes(method));
        return finish({
          op: 'undocumented',
          method,
          target,
          headers,
          ...(body ? { body } : {}),
          transport: rawNeeded ? 'raw' : 'fetch',
          credential,
          flaws: ['path: not in the document'],
          unsure: [],
          requestId: rid.v && REQUEST_ID.test(rid.v) ? rid.v : null,
        });
      });
  }

  private build(
    op: Operation,
    bad: {
      credential?: boolean;
      path?: boolean;
      query?: boolean;
      header?: boolean;
      body?: boolean;
      method?: boolean;
    },
  ): fc.Arbitrary<RequestCase> {
    return fc
      .record({
        method: this.methodPart(op, !!bad.method),
        credential: this.credentialPart(op, !!bad.credential),
        path: this.pathPart(op, !!bad.path),
        query: this.queryPart(op, !!bad.query),
        headers: this.headerParamsPart(op, !!bad.header),
        body: this.bodyPart(op, !!bad.body),
        requestId: this.requestIdPart(),
        accept: fc.constantFrom(undefined, 'application/json', '*/*', 'application/xml', 'text/html'),
      })
      .map((p) => {
        const other = p.method.v.other;
        // What was generated for this operation's body, query and headers says nothing about another's.
        const loose: Part<unknown>[] = other ? [p.query, p.headers, p.body] : [];
        const parts = (
          [p.method, p.credential, p.path, p.query, p.headers, p.body] as Part<unknown>[]
        ).filter((x) => !loose.includes(x));
        const looseNotes = loose.flatMap((x) => [...x.flaws, ...x.unsure]).map((n) => `${n} (of ${op.id})`);
        const headers: Array<[string, string]> = [...p.headers.v, ...p.body.v.headers];
        if (p.requestId.v !== undefined) headers.push(['X-Request-ID', p.requestId.v]);
        if (p.accept) headers.push(['Accept', p.accept]);
        const target = p.path.v.target + p.query.v;
        const raw =
          p.method.v.raw ||
          p.path.v.raw ||
          p.body.v.raw ||
          // fetch refuses a body on GET and HEAD.
          (p.body.v.body !== undefined && ['GET', 'HEAD'].includes(p.method.v.method)) ||
          p.headers.v.some(([, v]) => !headerSafeForFetch(v));
        return finish({
          op: other ?? op.id,
          method: p.method.v.method,
          target,
          headers,
          ...(p.body.v.body !== undefined ? { body: p.body.v.body } : {}),
          ...(p.body.v.chunked ? { chunked: true } : {}),
          transport: raw ? 'raw' : 'fetch',
          credential: p.credential.v,
          ...(p.method.v.allow !== undefined ? { allow: p.method.v.allow } : {}),
          ...(p.body.v.unknownFields && !other ? { unknownFields: p.body.v.unknownFields } : {}),
          flaws: parts.flatMap((x) => x.flaws),
          unsure: [...parts.flatMap((x) => x.unsure), ...looseNotes],
          requestId: p.requestId.v !== undefined && REQUEST_ID.test(p.requestId.v) ? p.requestId.v : null,
        });
      });
  }

  private methodPart(
    op: Operation,
    bad: boolean,
  ): fc.Arbitrary<Part<{ method: string; raw: boolean; other?: string; allow?: string }>> {
    if (!bad) return fc.constant(part({ method: op.method, raw: false }));
    const documented = new Set(OPERATION_METHODS.get(op.path) ?? [op.method]);
    const allow = allowOf(op.path);
    return fc
      .constantFrom(
        'GET',
        'POST',
        'PUT',
        'DELETE',
        'PATCH',
        'OPTIONS',
        'HEAD',
        'TRACE',
        'CONNECT',
        'PROPFIND',
        'FOO',
        'patch',
      )
      .map((m) => {
        const raw = RAW_METHODS.has(m);
        if (m === op.method) return part({ method: m, raw });
        // Another operation on the same path: the request is that operation's now.
        if (documented.has(m)) return part({ method: m, raw, other: `${m} ${op.path}` });
        if (m === 'HEAD' && documented.has('GET')) {
          const other = op.method === 'GET' ? {} : { other: `GET ${op.path}` };
          return part({ method: m, raw, ...other }, [], ['method: HEAD of a GET']);
        }
        // OPTIONS says what the path allows: a 204 no operation documents.
        if (m === 'OPTIONS')
          return part({ method: m, raw, other: `OPTIONS ${op.path}`, allow }, [], ['method: OPTIONS']);
        // Methods the server reads: the app answers 405 with Allow. Others never reach it.
        const known = SERVER_METHODS.has(m) ? { allow } : {};
        return part({ method: m, raw, ...known }, [`method: ${m} is not documented for ${op.path}`]);
      });
  }

  private credentialPart(op: Operation, bad: boolean): fc.Arbitrary<Part<Credential>> {
    if (op.security === 'sidecar') {
      return bad
        ? fc
            .constantFrom<Credential>(
              ...BAD_SIDECAR_CREDENTIALS,
              'none',
              'garbage',
              'admin',
              'operator',
              'expired',
            )
            .map((c) => part(c, [`credential: ${c} is not a sidecar signature`]))
        : fc.constant(part<Credential>('sidecar'));
    }
    if (op.security === 'bearer') {
      return bad
        ? fc
            .constantFrom<Credential>(...BAD_USER_CREDENTIALS, 'sidecar')
            .map((c) => part(c, [`credential: ${c}`]))
        : fc
            .constantFrom<Credential>('admin', 'admin', 'operator', 'viewer', 'admin-key')
            .map((c) => part(c));
    }
    // Open routes ignore credentials; any will do.
    return fc.constantFrom<Credential>('none', 'admin', 'garbage', 'expired').map((c) => part(c));
  }

  private pathPart(op: Operation, bad: boolean): fc.Arbitrary<Part<{ target: string; raw: boolean }>> {
    const params = op.params.filter((p) => p.in === 'path');
    if (params.length === 0) return fc.constant(part({ target: op.path, raw: false }));
    const values = params.map((p) => (bad ? this.badPathValue(p) : this.goodPathValue(p)));
    return fc.tuple(...values).map((vals) => {
      let target = op.path;
      const flaws: string[] = [];
      const unsure: string[] = [];
      let raw = false;
      params.forEach((p, i) => {
        const v = vals[i]!;
        target = target.replace(`{${p.name}}`, v.v.segment);
        flaws.push(...v.flaws);
        unsure.push(...v.unsure);
        raw ||= v.v.raw;
      });
      return { v: { target, raw }, flaws, unsure };
    });
  }

  private goodPathValue(p: Param): fc.Arbitrary<Part<{ segment: string; raw: boolean }>> {
    const pool = (this.options.pools as unknown as Record<string, readonly string[] | undefined>)[p.name];
    const fromSchema = this.s.valid(p.schema).map(String);
    const value = pool?.length
      ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: fromSchema })
      : fromSchema;
    return value.map((v) => part({ segment: encodeSegment(v), raw: false }));
  }

  private badPathValue(p: Param): fc.Arbitrary<Part<{ segment: string; raw: boolean }>> {
    const encoded = fc
      .oneof(
        hostileStrings(),
        this.s.invalid(p.schema).map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))),
      )
      .map((v) => encodeSegment(v));
    const rawSegment = fc.constantFrom(...RAW_SEGMENTS);
    return fc.oneof(encoded, rawSegment).map((segment) => {
      const raw = /^(\.|%2e){1,2}$/i.test(segment);
      const decoded = tryDecode(segment);
      if (segment === '') return part({ segment, raw }, [`path.${p.name}: empty`]);
      if (decoded === null) return part({ segment, raw }, [`path.${p.name}: not decodable`]);
      if (raw) return part({ segment, raw }, [`path.${p.name}: a dot segment`]);
      const value = wireValue(p.schema, this.s, decoded);
      return this.s.conforms(p.schema, value)
        ? part({ segment, raw })
        : part({ segment, raw }, [`path.${p.name}: ${JSON.stringify(decoded).slice(0, 40)}`]);
    });
  }

  private queryPart(op: Operation, bad: boolean): fc.Arbitrary<Part<string>> {
    const params = op.params.filter((p) => p.in === 'query');
    if (params.length === 0) {
      return fc
        .option(fc.constantFrom('?', '?x=1', '?limit=5&limit=6', '?a[b]=1&__proto__=1'), { nil: '' })
        .map((q) => part(q));
    }
    const entries = params.map((p) =>
      fc.option(bad ? this.badQueryValue(p) : this.goodWireValue(p), { nil: undefined, freq: bad ? 2 : 3 }),
    );
    return fc
      .tuple(
        fc.tuple(...entries),
        fc.boolean(),
        fc.option(fc.constantFrom('utm_source=x', 'a[]=1', 'debug=true'), { nil: undefined }),
      )
      .map(([vals, dup, extra]) => {
        const pairs: string[] = [];
        const flaws: string[] = [];
        const unsure: string[] = [];
        params.forEach((p, i) => {
          const v = vals[i];
          if (!v) return;
          pairs.push(`${encodeURIComponent(p.name)}=${v.v}`);
          flaws.push(...v.flaws);
          unsure.push(...v.unsure);
          if (dup && bad) {
            pairs.push(`${encodeURIComponent(p.name)}=${v.v}x`);
            unsure.push(`query.${p.name}: repeated`);
          }
        });
        if (extra) pairs.push(extra);
        return { v: pairs.length ? `?${pairs.join('&')}` : '', flaws, unsure };
      });
  }

  private goodWireValue(p: Param): fc.Arbitrary<Part<string>> {
    return this.s.valid(p.schema).map((v) => part(encodeSegment(String(v))));
  }

  private badQueryValue(p: Param): fc.Arbitrary<Part<string>> {
    return fc
      .oneof(
        hostileStrings(),
        this.s.invalid(p.schema).map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))),
        fc.constantFrom('', '0x10', '1e1', ' 5', '5 ', '+5', '٥', '５', '1,2', 'true'),
      )
      .map((raw) => {
        const value = wireValue(p.schema, this.s, raw);
        const enc = encodeSegment(raw);
        return this.s.conforms(p.schema, value)
          ? part(enc)
          : part(enc, [`query.${p.name}: ${JSON.stringify(raw).slice(0, 40)}`]);
      });
  }

  private headerParamsPart(op: Operation, bad: boolean): fc.Arbitrary<Part<Array<[string, string]>>> {
    const params = op.params.filter((p) => p.in === 'header');
    if (params.length === 0) return fc.constant(part([]));
    const entries = params.map((p) =>
      fc.option(
        (bad
          ? fc.oneof(hostileStrings(), this.s.invalid(p.schema).map(String))
          : this.s.valid(p.schema).map(String)
        )
          .filter(headerSafe)
          .map((raw) => {
            // Both fetch and servers drop the whitespace around a header value.
            const value = raw.replace(/^[ \t]+|[ \t]+$/g, '');
            return this.s.conforms(p.schema, value)
              ? part<[string, string]>([p.name, raw])
              : part<[string, string]>(
                  [p.name, raw],
                  [`header.${p.name}: ${JSON.stringify(value).slice(0, 40)}`],
                );
          }),
        { nil: undefined, freq: bad ? 1 : 2 },
      ),
    );
    return fc.tuple(...entries).map((vals) => {
      const present = vals.filter((v): v is Part<[string, string]> => v !== undefined);
      return {
        v: present.map((x) => x.v),
        flaws: present.flatMap((x) => x.flaws),
        unsure: present.flatMap((x) => x.unsure),
      };
    });
  }

  private requestIdPart(): fc.Arbitrary<Part<string | undefined>> {
    return fc
      .oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        { weight: 2, arbitrary: fc.stringMatching(REQUEST_ID) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'has space',
            'x'.repeat(129),
            'é',
            "'; DROP TABLE x",
            '../..',
            '<script>',
          ),
        },
      )
      .map((v) => part(v));
  }

  private bodyPart(
    op: Operation,
    bad: boolean,
  ): fc.Arbitrary<
    Part<{
      body?: string;
      headers: Array<[string, string]>;
      chunked?: boolean;
      raw?: boolean;
      unknownFields?: string[];
    }>
  > {
    type B = {
      body?: string;
      headers: Array<[string, string]>;
      chunked?: boolean;
      raw?: boolean;
      unknownFields?: string[];
    };
    if (!op.body) {
      if (!bad) return fc.constant(part<B>({ headers: [] }));
      // A body where the document has none: servers ignore it or refuse it, both are fine.
      return fc
        .constantFrom('{"phone_number":"+15551234000"}', 'x'.repeat(70 * 1024), '', 'a=b')
        .map((body) =>
          part<B>(
            { body, headers: [['Content-Type', 'application/json']] },
            [],
            ['body: where none is documented'],
          ),
        );
    }
    const [type, schema] = Object.entries(op.body.content)[0]!;
    const form = type === 'application/x-www-form-urlencoded';
    const encode = (v: unknown) => (form ? formEncode(v) : JSON.stringify(v));
    const decodeForCheck = (text: string): unknown => (form ? formDecode(text) : JSON.parse(text));
    const shaped = this.options.shapeBody
      ? this.options.shapeBody(op, this.s.valid(schema))
      : this.s.valid(schema);
    const contentType = fc.constantFrom(type, `${type}; charset=utf-8`, type.toUpperCase());

    const classify = (text: string, ct: string | null, extra: Partial<B> = {}): Part<B> => {
      const headers: Array<[string, string]> = ct === null ? [] : [['Content-Type', ct]];
      const b: B = { body: text, headers, ...extra };
      let value: unknown;
      try {
        value = decodeForCheck(text);
      } catch {
        return part(b, ['body: not parseable']);
      }
      const violation = this.s.violation(schema, value);
      return violation ? part(b, [`body ${violation}`.slice(0, 120)]) : part(b);
    };

    if (!bad) {
      const omit = op.body.required ? fc.constant(false) : fc.boolean();
      const first = fc
        .tuple(shaped, contentType, omit)
        .map(([v, ct, skip]) => (skip ? part<B>({ headers: [] }) : classify(encode(v), ct)));
      // A route that also takes CSV (a contacts import) gets CSV files too: any text is a valid
      // text/csv body by the document, whatever the route then makes of its rows.
      if (!op.body.content['text/csv']) return first;
      const csv = fc
        .tuple(csvText(), fc.constantFrom('text/csv', 'text/csv; charset=utf-8', 'TEXT/CSV'))
        .map(([text, ct]) => part<B>({ body: text, headers: [['Content-Type', ct]] }));
      return fc.oneof(first, csv);
    }

    const wrongTypes = form
      ? ['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml']
      : [
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          'text/json',
          'application/jsonx',
          'application/json-seq',
          '*/*',
          'json',
        ];
    const variants: fc.Arbitrary<Part<B>>[] = [
      // A value the schema refuses, well encoded.
      fc.tuple(this.s.invalid(schema), contentType).map(([v, ct]) => {
        const text = encode(v);
        return text === undefined ? part<B>({ headers: [] }, ['body: missing']) : classify(text, ct);
      }),
      // The right value under a wrong or missing media type.
      fc.tuple(shaped, fc.constantFrom<string | null>(...wrongTypes, null)).map(([v, ct]) => {
        const p = classify(encode(v), ct);
        return { ...p, flaws: [...p.flaws, `content-type: ${ct ?? 'none'}`] };
      }),
      // Text that is not what the media type says.
      fc
        .tuple(fc.constantFrom(...(form ? MALFORMED_FORMS : MALFORMED_JSON)), contentType)
        .map(([text, ct]) => {
          const p = classify(text, ct);
          if (form && p.flaws.length === 0) return { ...p, unsure: ['body: loose form encoding'] };
          return p;
        }),
      // Over the size limit, announced or streamed.
      fc
        .tuple(fc.integer({ min: 64 * 1024 + 1, max: 160 * 1024 }), fc.boolean(), contentType)
        .map(([size, chunked, ct]) => {
          const text = form ? `username=a&password=${'x'.repeat(size)}` : `{"pad":"${'x'.repeat(size)}"}`;
          const b: B = { body: text, headers: [['Content-Type', ct]], ...(chunked ? { chunked } : {}) };
          // The sidecar channel takes larger batches than callers may send.
          return op.security === 'sidecar'
            ? part(b, [], ['body: over 64 KiB on the sidecar channel'])
            : part(b, ['body: over 64 KiB']);
        }),
      // Two Content-Type fields.
      fc.tuple(shaped, fc.constantFrom(...wrongTypes, type)).map(([v, other]) =>
        part<B>(
          {
            body: encode(v),
            headers: [
              ['Content-Type', type],
              ['Content-Type', other],
            ],
            raw: true,
          },
          [],
          ['content-type: repeated'],
        ),
      ),
      // JSON texts the specification leaves to the parser.
      ...(form
        ? []
        : [
            fc.tuple(shaped, fc.constantFrom('bom', 'dup', 'utf16')).map(([v, how]) => {
              const text = JSON.stringify(v);
              if (how === 'bom')
                return part<B>(
                  { body: `\ufeff${text}`, headers: [['Content-Type', type]] },
                  [],
                  ['body: byte order mark'],
                );
              if (how === 'utf16')
                return part<B>(
                  { body: text, headers: [['Content-Type', `${type}; charset=utf-16`]] },
                  [],
                  ['body: charset utf-16'],
                );
              const dup = text.replace(/^\{/, '{"__dup":1,"__dup":2,');
              return part<B>(
                { body: dup === text ? text : dup, headers: [['Content-Type', type]] },
                [],
                ['body: repeated member'],
              );
            }),
          ]),
    ];
    // A valid JSON object with members the route does not define (a typo, a field of another
    // version, `__proto__`): written as text, so that every name is an own member as a client sends it.
    const closed = this.s.resolve(schema);
    if (!form && closed.type === 'object' && closed.additionalProperties === false) {
      const known = closed.properties ?? {};
      const name = fc
        .oneof(
          fc.constantFrom('tiemout', 'Phone_Number', '__proto__', 'constructor', 'a/b', 'x~y', ''),
          fc.string({ minLength: 1, maxLength: 12 }),
          hostileStrings().filter((k) => k.length <= 64),
        )
        .filter((k) => !Object.hasOwn(known, k));
      variants.push(
        fc
          .tuple(shaped, fc.uniqueArray(name, { minLength: 1, maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }))
          .filter(([v]) => typeof v === 'object' && v !== null && !Array.isArray(v))
          .map(([v, names, value]) => {
            const members = Object.entries(v as Record<string, unknown>).map(
              ([k, x]) => `${JSON.stringify(k)}:${JSON.stringify(x)}`,
            );
            for (const k of names) members.push(`${JSON.stringify(k)}:${JSON.stringify(value) ?? 'null'}`);
            return part<B>(
              { body: `{${members.join(',')}}`, headers: [['Content-Type', type]], unknownFields: names },
              names.map((k) => `${UNKNOWN_FIELD_FLAW} ${JSON.stringify(k).slice(0, 40)}`),
            );
          }),
      );
    }
    if (op.body.required)
      variants.push(fc.constant(part<B>({ headers: [['Content-Type', type]] }, ['body: missing'])));
    else
      variants.push(
        fc.constant(
          part<B>({ body: '', headers: [['Content-Type', type]] }, [], ['body: empty with a media type']),
        ),
      );
    return fc.oneof(...variants);
  }
}

/**
 * Methods fetch will not send as they are: it refuses TRACE and CONNECT, and Bun's Request turns a
 * method it does not know (FOO, lowercase patch) into GET.
 */
const RAW_METHODS = new Set(['TRACE', 'CONNECT', 'FOO', 'patch']);

/** Methods the HTTP server parses; it closes the connection on any other token, before the app. */
export const SERVER_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PROPFIND',
]);

/** Methods documented per path, filled by `indexMethods`. */
const OPERATION_METHODS = new Map<string, string[]>();

/** The flaw of a body member the route does not define. */
export const UNKNOWN_FIELD_FLAW = 'body: unknown field';

/**
 * The Allow header of a documented path: its methods, HEAD with GET, and OPTIONS, in the order
 * GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.
 */
export function allowOf(path: string): string {
  const methods = new Set(OPERATION_METHODS.get(path) ?? []);
  if (methods.has('GET')) methods.add('HEAD');
  methods.add('OPTIONS');
  return ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
    .filter((m) => methods.has(m))
    .join(', ');
}

export function indexMethods(ops: Operation[]) {
  OPERATION_METHODS.clear();
  for (const op of ops)
    OPERATION_METHODS.set(op.path, [...(OPERATION_METHODS.get(op.path) ?? []), op.method]);
}

function headerSafeForFetch(v: string): boolean {
  return [...v].every((c) => c.codePointAt(0)! <= 0x7e);
}

function formEncode(v: unknown): string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return String(v);
  const params = new URLSearchParams();
  for (const [k, x] of Object.entries(v)) params.append(k, typeof x === 'string' ? x : JSON.stringify(x));
  return params.toString();
}

function formDecode(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}

const MALFORMED_JSON: readonly string[] = [
  '{',
  '}',
  '{"phone_number":',
  '{"phone_number":"+15551234000",}',
  "{'phone_number':'+15551234000'}",
  '{phone_number:"+15551234000"}',
  '{"phone_number":"+15551234000"}{"x":1}',
  '{"phone_number":"+15551234000"} trailing',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":-}',
  '{"a":01}',
  '{"a":"\u0000"}',
  '{"a":"\\x41"}',
  '{"a":"\\ud800"}',
  '{"a":1e999}',
  '[',
  '[]',
  '[{}]',
  'null',
  'true',
  '0',
  '-0',
  '"{}"',
  '""',
  ' ',
  '\n',
  'undefined',
  '<xml/>',
  'phone_number=+15551234000',
  '\u0000',
  `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
  `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
  `{"a":"${'\\u0000'.repeat(1000)}"}`,
  `{"a":${'9'.repeat(5000)}}`,
  JSON.stringify(Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i]))),
  ...HOSTILE_STRINGS.slice(0, 20),
];

const MALFORMED_FORMS: readonly string[] = [
  '',
  '=',
  '&&&',
  'username',
  'username=&password=',
  'username=%zz&password=%',
  'username=a&username=b&password=c',
  'username=a&password=b&grant_type=client_credentials',
  'username[]=a&password=b',
  '{"username":"a","password":"b"}',
  `username=${'a'.repeat(200)}&password=x`,
  `username=a&password=${'x'.repeat(1100)}`,
  'username=%00&password=%00',
  'username=admin%27--&password=x',
];

/** Adds what every request carries and a readable form for failure reports. */
function finish(c: RequestCase): RequestCase {
  Object.defineProperty(c, fc.toStringMethod, {
    enumerable: false,
    value: () => describe(c),
  });
  return c;
}

export function describe(c: RequestCase): string {
  const cut = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  const lines = [
    `${c.method} ${cut(c.target, 200)} [${c.transport}${c.chunked ? ', chunked' : ''}] as ${c.credential}`,
    ...c.headers.map(([k, v]) => `  ${k}: ${cut(v, 120)}`),
  ];
  if (c.body !== undefined) lines.push(`  body: ${cut(JSON.stringify(c.body))}`);
  lines.push(
    `  flaws: ${c.flaws.join('; ') || 'none'}${c.unsure.length ? `; unsure: ${c.unsure.join('; ')}` : ''}`,
  );
  return lines.join('\n');
}

/** A CSV field as RFC 4180 writes it (or, now and then, as a careless writer does). */
const csvCell = (v: string, careless: boolean) =>
  careless || !/[",\r\n]/.test(v) ? v : `"${v.replaceAll('"', '""')}"`;

/**
 * CSV files of contacts: a header (phone_number, timezone and variable columns, or a wrong one), then
 * rows of numbers as people write them, zones and hostile text, mostly well quoted, with a BOM, CRLF
 * or LF, ragged rows and careless quoting mixed in.
 */
function csvText(): fc.Arbitrary<string> {
  const header = fc.constantFrom(
    ['phone_number'],
    ['phone_number', 'timezone'],
    ['phone_number', 'timezone', 'FIRST_NAME', 'NOTE'],
    ['timezone', 'phone_number', 'A1'],
    ['number', 'timezone'],
    ['phone_number', 'bad column'],
    ['phone_number', 'phone_number'],
  );
  const cell = fc.oneof(
    fc.constantFrom('(202) 555-0123', '+44 20 7946 0958', '2025550199', '+15551234000', '', 'x'),
    fc.constantFrom('America/New_York', 'UTC', 'Mars/Olympus', ''),
    hostileStrings(),
    fc.string({ maxLength: 20 }),
  );
  const row = fc.array(cell, { minLength: 1, maxLength: 5 });
  return fc
    .tuple(
      header,
      fc.array(row, { maxLength: 12 }),
      fc.boolean(),
      fc.constantFrom('\r\n', '\n'),
      fc.integer({ min: 0, max: 9 }),
    )
    .map(([head, rows, bom, eol, carelessness]) => {
      const careless = carelessness === 0;
      const lines = [head, ...rows].map((r) => r.map((v) => csvCell(v, careless)).join(','));
      return `${bom ? '\ufeff' : ''}${lines.join(eol)}${eol}`;
    });
}
