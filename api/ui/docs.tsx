import type { Child } from 'hono/jsx';
import { docsClient } from './docs.client.ts';
import { Markdown } from './markdown.tsx';
import { PageHead } from './page-head.tsx';
import { pageScript } from './page-script.ts';
import { STYLE_CSS } from './style.ts';
import { Table } from './table.tsx';

/**
 * The interactive API reference at /docs: rendered on the server from the OpenAPI document, with
 * a small script that logs in and sends requests ("try it"). It needs nothing from a CDN.
 */

type Json = Record<string, unknown>;
interface Schema extends Json {
  type?: string | string[];
  $ref?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  description?: string;
  example?: unknown;
  format?: string;
  default?: unknown;
  nullable?: boolean;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}
interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}
export interface OpenApiDoc {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
  tags?: { name: string; description?: string }[];
}

export const DOCS_JS = pageScript([`(${docsClient.toString()})();`]);
export const DOCS_CSS = STYLE_CSS;

function resolve(doc: OpenApiDoc, schema: Schema | undefined): Schema | undefined {
  if (!schema?.$ref) return schema;
  const name = schema.$ref.split('/').pop()!;
  return doc.components?.schemas?.[name];
}

function refName(schema: Schema | undefined): string | null {
  return schema?.$ref ? schema.$ref.split('/').pop()! : null;
}

function typeText(doc: OpenApiDoc, schema: Schema | undefined): string {
  if (!schema) return '';
  const ref = refName(schema);
  if (ref) return ref;
  if (schema.anyOf || schema.oneOf) {
    return (schema.anyOf ?? schema.oneOf)!.map((s) => typeText(doc, s)).join(' | ');
  }
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const t = Array.isArray(schema.type) ? schema.type.join(' | ') : (schema.type ?? 'any');
  if (t === 'array') return `${typeText(doc, schema.items)}[]`;
  return schema.format ? `${t} (${schema.format})` : t;
}

interface FieldRow {
  name: string;
  type: string;
  required: boolean;
  description: string;
  example: string;
}

function fieldRows(doc: OpenApiDoc, schema: Schema | undefined, prefix = '', depth = 0): FieldRow[] {
  const s = resolve(doc, schema);
  if (!s?.properties) return [];
  const rows: FieldRow[] = [];
  for (const [name, raw] of Object.entries(s.properties)) {
    const prop = resolve(doc, raw) ?? raw;
    rows.push({
      name: `${prefix}${name}`,
      type: typeText(doc, raw),
      required: s.required?.includes(name) ?? false,
      description: raw.description ?? prop.description ?? '',
      example:
        raw.example !== undefined
          ? JSON.stringify(raw.example)
          : prop.example !== undefined
            ? JSON.stringify(prop.example)
            : '',
    });
    if (depth < 1 && prop.type === 'object' && prop.properties)
      rows.push(...fieldRows(doc, prop, `${prefix}${name}.`, depth + 1));
  }
  return rows;
}

function exampleOf(doc: OpenApiDoc, schema: Schema | undefined, depth = 0): unknown {
  const s = resolve(doc, schema);
  if (!s || depth > 4) return null;
  if (s.example !== undefined) return s.example;
  if (s.properties) {
    const out: Json = {};
    for (const [k, v] of Object.entries(s.properties)) {
      if (s.required?.includes(k) || depth === 0)
        out[k] = v.example !== undefined ? v.example : exampleOf(doc, v, depth + 1);
    }
    return out;
  }
  if (s.type === 'array') return [exampleOf(doc, s.items, depth + 1)];
  return null;
}

/** A request example with only the required fields and a few useful optional ones. */
function requestExample(doc: OpenApiDoc, schema: Schema | undefined): string {
  const s = resolve(doc, schema);
  if (!s?.properties) return '';
  const out: Json = {};
  for (const [k, v] of Object.entries(s.properties)) {
    if (s.required?.includes(k)) out[k] = v.example ?? exampleOf(doc, v, 1);
  }
  return JSON.stringify(out, null, 2);
}

const slug = (method: string, path: string) =>
  `${method}-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;

function FieldTable(props: { rows: FieldRow[]; caption: string }) {
  if (props.rows.length === 0) return null;
  return (
    <Table caption={props.caption} columns={['field', 'type', 'description', 'example']}>
      {props.rows.map((r) => (
        <tr>
          <td class="mono">
            {r.name}
            {r.required ? <abbr title="required"> *</abbr> : null}
          </td>
          <td class="mono small">{r.type}</td>
          <td>{r.description}</td>
          <td class="mono small">{r.example}</td>
        </tr>
      ))}
    </Table>
  );
}

function OperationView(props: { doc: OpenApiDoc; method: string; path: string; op: Operation }) {
  const { doc, method, path, op } = props;
  const id = slug(method, path);
  const params = op.parameters ?? [];
  const jsonBody = op.requestBody?.content?.['application/json']?.schema;
  const formBody = op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema;
  const bodySchema = jsonBody ?? formBody;
  const bodyType = jsonBody ? 'application/json' : formBody ? 'application/x-www-form-urlencoded' : '';
  const secured = (op.security?.length ?? 0) > 0;
  return (
    <section class="op" id={id} aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>
        <span class={`method ${method}`}>{method.toUpperCase()}</span> <code>{path}</code>
      </h3>
      <p>
        <strong>{op.summary}</strong>
        {secured ? <span class="muted small"> · needs a bearer token</span> : null}
      </p>
      {op.description ? <Markdown markdown={op.description} level={4} /> : null}
      {params.length > 0 ? (
        <>
          <h4>Parameters</h4>
          <FieldTable
            caption="Parameters"
            rows={params.map((p) => ({
              name: `${p.name} (${p.in})`,
              type: typeText(doc, p.schema),
              required: p.required ?? false,
              description: p.description ?? p.schema?.description ?? '',
              example: p.schema?.example !== undefined ? JSON.stringify(p.schema.example) : '',
            }))}
          />
        </>
      ) : null}
      {bodySchema ? (
        <>
          <h4>
            Request body <span class="muted small">({bodyType})</span>
          </h4>
          <FieldTable caption="Request body fields" rows={fieldRows(doc, bodySchema)} />
        </>
      ) : null}
      <h4>Responses</h4>
      <Table caption="Responses" columns={['status', 'meaning', 'body']}>
        {Object.entries(op.responses ?? {}).map(([status, r]) => {
          const [type, media] = Object.entries(r.content ?? {})[0] ?? [];
          return (
            <tr>
              <td class="mono">{status}</td>
              <td>{r.description}</td>
              <td class="mono small">{type ? `${type} ${refName(media?.schema) ?? ''}` : '—'}</td>
            </tr>
          );
        })}
      </Table>
      <details>
        <summary>Try it</summary>
        <form class="try" data-method={method.toUpperCase()} data-path={path} data-body-type={bodyType}>
          {params.map((p) => (
            <>
              <label for={`${id}-${p.in}-${p.name}`}>
                {p.name}{' '}
                <span class="muted small">
                  ({p.in}
                  {p.required ? ', required' : ''})
                </span>
              </label>
              <input
                id={`${id}-${p.in}-${p.name}`}
                name={p.name}
                data-in={p.in}
                placeholder={p.schema?.example !== undefined ? String(p.schema.example) : ''}
                required={p.required && p.in === 'path'}
              />
            </>
          ))}
          {bodySchema ? (
            <>
              <label for={`${id}-body`}>
                Body ({bodyType === 'application/json' ? 'JSON' : 'form fields as JSON'})
              </label>
              <textarea id={`${id}-body`} name="__body">
                {requestExample(doc, bodySchema)}
              </textarea>
            </>
          ) : null}
          <p>
            <button type="submit" class="primary">
              Send
            </button>
          </p>
          <div class="result" aria-live="polite" />
        </form>
      </details>
    </section>
  );
}

export function DocsPage(props: { doc: OpenApiDoc }): Child {
  const { doc } = props;
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? 'Other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push({ method, path, op });
    }
  }
  const tags = [
    ...(doc.tags ?? []).map((t) => t.name),
    ...[...byTag.keys()].filter((t) => !doc.tags?.some((x) => x.name === t)),
  ];
  return (
    <html lang="en">
      <PageHead title={`${doc.info.title} reference`} path="/docs" />
      <body>
        <a class="skip" href="#main">
          Skip to the reference
        </a>
        <header class="top">
          <h1>
            {doc.info.title} <span class="muted small">v{doc.info.version}</span>
          </h1>
          <form id="login" class="row" aria-label="Log in to try requests">
            <div>
              <label for="login-username">Username</label>
              <input id="login-username" name="username" autocomplete="username" />
            </div>
            <div>
              <label for="login-password">Password</label>
              <input id="login-password" name="password" type="password" autocomplete="current-password" />
            </div>
            <div>
              <button type="submit" class="primary">
                Log in
              </button>{' '}
              <a href="/openapi.json">openapi.json</a>
            </div>
            <p id="login-state" class="small muted" aria-live="polite">
              Not logged in: routes that need a token answer 401.
            </p>
          </form>
        </header>
        <div class="layout">
          <nav class="side" aria-label="Operations">
            {doc.info.description ? (
              <p>
                <a href="#guide">Guide</a>
              </p>
            ) : null}
            {tags.map((tag) => (
              <>
                <h2>{tag}</h2>
                <ul>
                  {(byTag.get(tag) ?? []).map(({ method, path, op }) => (
                    <li>
                      <a href={`#${slug(method, path)}`}>
                        <span class={`method ${method}`}>{method.toUpperCase()}</span> {op.summary ?? path}
                      </a>
                    </li>
                  ))}
                </ul>
              </>
            ))}
          </nav>
          <main id="main">
            {doc.info.description ? (
              <section id="guide" aria-label="Guide">
                <Markdown markdown={doc.info.description} level={2} />
              </section>
            ) : null}
            {tags.map((tag) => (
              <>
                <h2>{tag}</h2>
                {(doc.tags ?? []).find((t) => t.name === tag)?.description ? (
                  <Markdown markdown={doc.tags!.find((t) => t.name === tag)!.description!} level={3} />
                ) : null}
                {(byTag.get(tag) ?? []).map((o) => (
                  <OperationView doc={doc} method={o.method} path={o.path} op={o.op} />
                ))}
              </>
            ))}
          </main>
        </div>
      </body>
    </html>
  );
}
