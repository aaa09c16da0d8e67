/**
 * Example answers made from the document's own schemas: every field is declared with an example
 * (`.openapi({ example })`), so an answer's example is those examples put together. A response that
 * declares no example of its own gets this one, so the reference and any tool reading /openapi.json
 * show a whole body for every operation, and it can never drift from the schema it illustrates.
 */

type Schema = Record<string, unknown> & {
  $ref?: string;
  type?: string | string[];
  example?: unknown;
  examples?: unknown[];
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
};

/** Formats whose values any example of the type may take. */
const FORMAT_EXAMPLES: Record<string, unknown> = {
  'date-time': '2026-11-02T09:30:00.000Z',
  uuid: '5b0f8a52-3c1e-4d7a-9f2b-6e8d1c4a7b90',
  binary: '<binary>',
};

/** The example of `schema`, or undefined when some required field of it declares none. */
export function exampleOf(schema: Schema | undefined, schemas: Record<string, Schema>, depth = 0): unknown {
  if (!schema || depth > 12) return undefined;
  if (schema.$ref) return exampleOf(schemas[schema.$ref.split('/').pop()!], schemas, depth + 1);
  if (schema.example !== undefined) return schema.example;
  if (schema.examples?.length) return schema.examples[0];
  if (schema.const !== undefined) return schema.const;
  if (schema.default !== undefined) return schema.default;
  if (schema.enum?.length) return schema.enum.find((v) => v !== null) ?? null;
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) {
    for (const branch of branches.filter((b) => b.type !== 'null')) {
      const value = exampleOf(branch, schemas, depth + 1);
      if (value !== undefined) return value;
    }
    return branches.some((b) => b.type === 'null') ? null : undefined;
  }
  if (schema.allOf) {
    const parts = schema.allOf.map((part) => exampleOf(part, schemas, depth + 1));
    if (parts.some((p) => p === undefined)) return undefined;
    return Object.assign({}, ...parts);
  }
  if (schema.format && schema.format in FORMAT_EXAMPLES) return FORMAT_EXAMPLES[schema.format];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (type === 'array') {
    const item = exampleOf(schema.items, schemas, depth + 1);
    return item === undefined ? undefined : [item];
  }
  if (type === 'object' || schema.properties) {
    const out: Record<string, unknown> = {};
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const value = exampleOf(property, schemas, depth + 1);
      if (value !== undefined) out[name] = value;
      else if (schema.required?.includes(name)) return undefined;
    }
    return out;
  }
  if (type === 'boolean') return true;
  return undefined;
}

interface MediaType {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, unknown>;
}
type Operation = {
  requestBody?: { content?: Record<string, MediaType> };
  responses?: Record<string, { content?: Record<string, MediaType> }>;
};
type Document = {
  webhooks?: Record<string, Record<string, Operation>>;
  paths?: Record<
    string,
    Record<string, { responses?: Record<string, { content?: Record<string, MediaType> }> }>
  >;
  components?: { schemas?: Record<string, Schema> };
};

/**
 * The document with an example on every response body, and every webhook's body, that declares a
 * schema and no example. A webhook's example carries the webhook's name as its `type`.
 */
export function withResponseExamples<T>(doc: T): T {
  const d = doc as Document;
  const schemas = d.components?.schemas ?? {};
  const fill = (media: MediaType, type?: string) => {
    if (media.example !== undefined || media.examples !== undefined || !media.schema) return;
    const example = exampleOf(media.schema, schemas);
    if (example === undefined) return;
    media.example =
      type && typeof example === 'object' && example !== null && 'type' in example
        ? { ...example, type }
        : example;
  };
  for (const operations of Object.values(d.paths ?? {}))
    for (const operation of Object.values(operations))
      for (const response of Object.values(operation.responses ?? {}))
        for (const media of Object.values(response.content ?? {})) fill(media);
  for (const [name, operations] of Object.entries(d.webhooks ?? {}))
    for (const operation of Object.values(operations))
      for (const media of Object.values(operation.requestBody?.content ?? {})) fill(media, name);
  return doc;
}
