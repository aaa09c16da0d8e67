import fc from 'fast-check';
import { hostileNumbers, hostileStrings } from './hostile.ts';

/**
 * The JSON Schema (2020-12, as OpenAPI 3.1 uses it) that the API's document is written in, as far
 * as the document uses it: a validator that says whether a value conforms, and fast-check
 * arbitraries for values that conform and for values that break the schema. Invalid values are
 * always confirmed with the validator, so a request called invalid is invalid by the document.
 */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  minProperties?: number;
  maxProperties?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  default?: unknown;
  example?: unknown;
  examples?: unknown[];
}

export interface SchemaDocument {
  components?: { schemas?: Record<string, JsonSchema> };
}

export class Schemas {
  private readonly patterns = new Map<string, RegExp>();

  constructor(readonly doc: SchemaDocument) {}

  resolve(schema: JsonSchema): JsonSchema {
    let s = schema;
    for (let depth = 0; s.$ref; depth++) {
      const name = /^#\/components\/schemas\/(.+)$/.exec(s.$ref)?.[1];
      const target = name ? this.doc.components?.schemas?.[name] : undefined;
      if (!target || depth > 20) throw new Error(`cannot resolve ${s.$ref}`);
      s = target;
    }
    return s;
  }

  regex(pattern: string): RegExp {
    let re = this.patterns.get(pattern);
    if (!re) {
      // JSON Schema patterns are ECMA-262 regular expressions with Unicode semantics.
      re = new RegExp(pattern, 'u');
      this.patterns.set(pattern, re);
    }
    return re;
  }

  /** Why `value` does not conform to `schema`, or null when it does. */
  violation(schema: JsonSchema, value: unknown, at = '$'): string | null {
    const s = this.resolve(schema);
    if (s.allOf) {
      for (const part of s.allOf) {
        const v = this.violation(part, value, at);
        if (v) return v;
      }
    }
    if (s.anyOf && !s.anyOf.some((part) => this.violation(part, value, at) === null))
      return `${at}: matches none of anyOf`;
    if (s.oneOf && s.oneOf.filter((part) => this.violation(part, value, at) === null).length !== 1)
      return `${at}: does not match exactly one of oneOf`;
    if (s.const !== undefined && !sameJson(s.const, value)) return `${at}: is not the constant`;
    if (s.enum && !s.enum.some((e) => sameJson(e, value))) return `${at}: is not one of the enum`;
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? s.type : [s.type];
      if (!types.some((t) => hasType(t, value))) return `${at}: is not ${types.join(' or ')}`;
    }
    if (typeof value === 'string') return this.stringViolation(s, value, at);
    if (typeof value === 'number') {
      if (s.minimum !== undefined && value < s.minimum) return `${at}: below minimum`;
      if (s.maximum !== undefined && value > s.maximum) return `${at}: above maximum`;
      if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) return `${at}: not above minimum`;
      if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum) return `${at}: not below maximum`;
    }
    if (Array.isArray(value)) {
      if (s.minItems !== undefined && value.length < s.minItems) return `${at}: too few items`;
      if (s.maxItems !== undefined && value.length > s.maxItems) return `${at}: too many items`;
      if (s.items) {
        for (let i = 0; i < value.length; i++) {
          const v = this.violation(s.items, value[i], `${at}[${i}]`);
          if (v) return v;
        }
      }
    }
    if (isObject(value)) {
      const keys = Object.keys(value);
      if (s.minProperties !== undefined && keys.length < s.minProperties) return `${at}: too few properties`;
      if (s.maxProperties !== undefined && keys.length > s.maxProperties) return `${at}: too many properties`;
      for (const name of s.required ?? [])
        if (!Object.hasOwn(value, name)) return `${at}: ${name} is required`;
      for (const key of keys) {
        if (s.propertyNames) {
          const v = this.violation(s.propertyNames, key, `${at} key ${JSON.stringify(key)}`);
          if (v) return v;
        }
        const prop = s.properties && Object.hasOwn(s.properties, key) ? s.properties[key] : undefined;
        if (prop) {
          const v = this.violation(prop, value[key], `${at}.${key}`);
          if (v) return v;
        } else if (s.additionalProperties === false) {
          return `${at}: ${key} is not allowed`;
        } else if (typeof s.additionalProperties === 'object') {
          const v = this.violation(s.additionalProperties, value[key], `${at}.${key}`);
          if (v) return v;
        }
      }
    }
    return null;
  }

  conforms(schema: JsonSchema, value: unknown): boolean {
    return this.violation(schema, value) === null;
  }

  private stringViolation(s: JsonSchema, value: string, at: string): string | null {
    // Lengths count characters (code points), not UTF-16 units.
    const length = [...value].length;
    if (s.minLength !== undefined && length < s.minLength) return `${at}: shorter than ${s.minLength}`;
    if (s.maxLength !== undefined && length > s.maxLength) return `${at}: longer than ${s.maxLength}`;
    if (s.pattern !== undefined && !this.regex(s.pattern).test(value)) return `${at}: does not match pattern`;
    if (s.format !== undefined && !FORMATS[s.format]?.(value)) return `${at}: is not a ${s.format}`;
    return null;
  }

  /** Values that conform to `schema`, leaning on its examples and boundaries. */
  valid(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
    const s = this.resolve(schema);
    const arb = this.validRaw(s, depth);
    // Anything built from the parts of a schema can still miss a rule that spans them.
    return arb.filter((v) => this.conforms(s, v));
  }

  private validRaw(s: JsonSchema, depth: number): fc.Arbitrary<unknown> {
    const examples = [s.example, ...(s.examples ?? [])].filter((e) => e !== undefined);
    const withExamples = (arb: fc.Arbitrary<unknown>) =>
      examples.length > 0
        ? fc.oneof({ arbitrary: fc.constantFrom(...examples), weight: 1 }, { arbitrary: arb, weight: 2 })
        : arb;
    if (s.allOf?.length) return this.valid(s.allOf[0]!, depth);
    if (s.anyOf?.length) return fc.oneof(...s.anyOf.map((p) => this.valid(p, depth)));
    if (s.oneOf?.length) return fc.oneof(...s.oneOf.map((p) => this.valid(p, depth)));
    if (s.const !== undefined) return fc.constant(s.const);
    if (s.enum) return fc.constantFrom(...s.enum);
    const types = s.type === undefined ? ['string', 'integer', 'boolean', 'null'] : [s.type].flat();
    const byType = types.map((t): fc.Arbitrary<unknown> => {
      switch (t) {
        case 'null':
          return fc.constant(null);
        case 'boolean':
          return fc.boolean();
        case 'integer':
          return withExamples(validInteger(s));
        case 'number':
          return withExamples(fc.oneof(validInteger(s), validDouble(s)));
        case 'string':
          return withExamples(this.validString(s));
        case 'array':
          return this.validArray(s, depth);
        case 'object':
          return withExamples(this.validObject(s, depth));
        default:
          throw new Error(`no generator for type ${t}`);
      }
    });
    return byType.length === 1 ? byType[0]! : fc.oneof(...byType);
  }

  private validString(s: JsonSchema): fc.Arbitrary<string> {
    const min = s.minLength ?? 0;
    const max = s.maxLength ?? Math.max(min, 40);
    const fits = (v: string) => {
      const n = [...v].length;
      return n >= min && n <= max;
    };
    if (s.format && FORMAT_ARBITRARIES[s.format]) return FORMAT_ARBITRARIES[s.format]!().filter(fits);
    if (s.pattern) {
      const re = this.regex(s.pattern);
      // Patterns with a repeated class give short strings; padding to the minimum keeps most in range.
      return fc.stringMatching(re, { size: 'medium' }).filter(fits);
    }
    return fc.oneof(
      fc.string({ minLength: min, maxLength: Math.min(max, 64) }),
      fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.min(max, 32) }),
      fc.constant('x'.repeat(Math.min(max, 4096))).filter(fits),
    );
  }

  private validArray(s: JsonSchema, depth: number): fc.Arbitrary<unknown[]> {
    const min = s.minItems ?? 0;
    const max = Math.min(s.maxItems ?? 5, min + 5);
    return fc.array(s.items ? this.valid(s.items, depth + 1) : fc.jsonValue({ maxDepth: 1 }), {
      minLength: min,
      maxLength: max,
    });
  }

  private validObject(s: JsonSchema, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const props = s.properties ?? {};
    const required = new Set(s.required ?? []);
    const record =
      Object.keys(props).length > 0
        ? fc.record(
            Object.fromEntries(Object.entries(props).map(([k, v]) => [k, this.valid(v, depth + 1)])),
            { requiredKeys: [...required].filter((k) => Object.hasOwn(props, k)) },
          )
        : fc.constant({});
    let extra: fc.Arbitrary<Record<string, unknown>> = fc.constant({});
    if (s.additionalProperties !== false && depth < 3) {
      const keys = s.propertyNames
        ? (this.valid(s.propertyNames, depth + 1) as fc.Arbitrary<string>)
        : fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('__proto__', 'constructor'));
      const values =
        typeof s.additionalProperties === 'object'
          ? this.valid(s.additionalProperties, depth + 1)
          : fc.jsonValue({ maxDepth: 2 });
      const room = Math.max(0, (s.maxProperties ?? Number.POSITIVE_INFINITY) - Object.keys(props).length);
      extra = fc.dictionary(
        keys.filter((k) => !Object.hasOwn(props, k)),
        values,
        { maxKeys: Math.min(3, room) },
      );
    }
    return fc.tuple(record, extra).map(([r, e]) => ({ ...e, ...r }));
  }

  /**
   * Values that break `schema`: wrong types, out-of-range and non-integral numbers, strings that
   * miss the pattern, format or length, missing required or wrong-typed properties, bad items.
   * Only values the validator confirms as invalid come out (null when none can be built).
   */
  invalid(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
    const s = this.resolve(schema);
    // A filter no value passes would never end.
    if (!this.breakable(s)) throw new Error(`nothing breaks the schema ${JSON.stringify(s).slice(0, 80)}`);
    const candidates: fc.Arbitrary<unknown>[] = [wrongType(s)];
    const types = s.type === undefined ? [] : [s.type].flat();
    if (s.enum) candidates.push(fc.oneof(hostileStrings(), fc.string({ maxLength: 12 })));
    if (types.includes('integer') || types.includes('number')) candidates.push(badNumber(s));
    if (types.includes('string')) candidates.push(this.badString(s));
    if (types.includes('array')) candidates.push(this.badArray(s, depth));
    if (types.includes('object')) candidates.push(this.badObject(s, depth));
    return fc.oneof(...candidates).filter((v) => !this.conforms(s, v));
  }

  /** Whether some JSON value fails `schema` (the empty schema, for one, takes everything). */
  breakable(schema: JsonSchema): boolean {
    const s = this.resolve(schema);
    if (s.type !== undefined || s.enum || s.const !== undefined) return true;
    if (s.anyOf) return s.anyOf.every((p) => this.breakable(p));
    if (s.oneOf) return true;
    if (s.allOf) return s.allOf.some((p) => this.breakable(p));
    return false;
  }

  private badString(s: JsonSchema): fc.Arbitrary<string> {
    const parts: fc.Arbitrary<string>[] = [hostileStrings()];
    if (s.minLength !== undefined && s.minLength > 0) parts.push(fc.string({ maxLength: s.minLength - 1 }));
    if (s.maxLength !== undefined) {
      const over = s.maxLength + 1;
      parts.push(
        fc.constantFrom('x', '7', 'a', '😀').map((c) => c.repeat(over)),
        fc.integer({ min: over, max: over + 100 }).map((n) => '1'.repeat(n)),
      );
    }
    // Near misses: a conforming value with one character added, removed or replaced. They probe
    // the edges of a pattern or format best, so they come as often as everything else together.
    if (s.pattern || s.format) {
      const near = fc
        .tuple(this.validString({ ...s, minLength: undefined, maxLength: undefined }), nearMiss())
        .map(([v, f]) => f(v));
      return fc.oneof(
        { weight: parts.length, arbitrary: near },
        ...parts.map((arbitrary) => ({ weight: 1, arbitrary })),
      );
    }
    return fc.oneof(...parts);
  }

  private badArray(s: JsonSchema, depth: number): fc.Arbitrary<unknown[]> {
    const parts: fc.Arbitrary<unknown[]>[] = [];
    if (s.items && this.breakable(s.items)) {
      const min = Math.max(1, s.minItems ?? 1);
      parts.push(fc.array(this.invalid(s.items, depth + 1), { minLength: min, maxLength: min + 2 }));
    }
    if (s.minItems !== undefined && s.minItems > 0) parts.push(fc.constant([]));
    if (s.maxItems !== undefined && s.items) {
      const item = this.valid(s.items, depth + 1);
      const over = s.maxItems + 1;
      // A long list past its bound (10,000 rows) is one item repeated: its length is the flaw, and
      // thousands of generated items would only take time.
      parts.push(
        s.maxItems > 50
          ? fc.tuple(item, fc.nat(2)).map(([v, extra]) => Array.from({ length: over + extra }, () => v))
          : fc.array(item, { minLength: over, maxLength: over + 2 }),
      );
    }
    return parts.length ? fc.oneof(...parts) : fc.constant([]);
  }

  private badObject(s: JsonSchema, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const good = this.validObject(s, depth);
    const props = Object.entries(s.properties ?? {}).filter(([, p]) => this.breakable(p));
    const parts: fc.Arbitrary<Record<string, unknown>>[] = [];
    const required = s.required ?? [];
    if (required.length > 0) {
      parts.push(
        fc.tuple(good, fc.subarray(required, { minLength: 1 })).map(([o, drop]) => {
          const copy = { ...o };
          for (const k of drop) delete copy[k];
          return copy;
        }),
      );
    }
    if (props.length > 0 && depth < 3) {
      // One bad property, the commonest mistake, weighs as much as the other kinds together.
      const oneBad = fc.constantFrom(...props).chain(([k, p]) =>
        fc.tuple(good, fc.constant(k), this.invalid(p, depth + 1)).map(([o, key, bad]) => ({
          ...o,
          [key]: bad,
        })),
      );
      parts.push(oneBad, oneBad);
    }
    if (typeof s.additionalProperties === 'object' && this.breakable(s.additionalProperties) && depth < 3) {
      parts.push(
        fc
          .tuple(
            good,
            fc.string({ minLength: 1, maxLength: 8 }),
            this.invalid(s.additionalProperties, depth + 1),
          )
          .filter(([, k]) => !Object.hasOwn(s.properties ?? {}, k as string))
          .map(([o, k, bad]) => ({ ...o, [k]: bad })),
      );
    }
    if (s.propertyNames && this.breakable(s.propertyNames) && typeof s.additionalProperties === 'object') {
      const value = this.valid(s.additionalProperties, depth + 1);
      parts.push(
        fc
          .tuple(good, this.invalid(s.propertyNames, depth + 1), value)
          .filter(([, k]) => typeof k === 'string' && !Object.hasOwn(s.properties ?? {}, k as string))
          .map(([o, k, v]) => ({ ...o, [k as string]: v })),
      );
    }
    if (s.additionalProperties === false) {
      // A member the schema does not define.
      parts.push(
        fc
          .tuple(
            good,
            fc.oneof(fc.constantFrom('tiemout', 'constructor'), fc.string({ minLength: 1, maxLength: 8 })),
          )
          .filter(([, k]) => !Object.hasOwn(s.properties ?? {}, k))
          .map(([o, k]) => ({ ...o, [k]: 1 })),
      );
    }
    if (s.maxProperties !== undefined) {
      const n = s.maxProperties + 1;
      parts.push(fc.constant(Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, 'x']))));
    }
    return parts.length ? fc.oneof(...parts) : fc.constant({});
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasType(type: string, v: unknown): boolean {
  switch (type) {
    case 'null':
      return v === null;
    case 'boolean':
      return typeof v === 'boolean';
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'array':
      return Array.isArray(v);
    case 'object':
      return isObject(v);
    default:
      return false;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 3339 date-time; leap seconds aside, the date and time must exist.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

function isDateTime(v: string): boolean {
  const m = DATE_TIME.exec(v);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  const days = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > days || h! > 23 || mi! > 59 || se! > 59) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return true;
}

// RFC 3986 absolute URI: a scheme, then only the characters a URI may hold (no spaces, controls
// or non-ASCII), with well-formed percent escapes.
function isUri(v: string): boolean {
  return (
    /^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/.test(v) &&
    !/%(?![0-9A-Fa-f]{2})/.test(v) &&
    URL.canParse(v)
  );
}

const FORMATS: Record<string, (v: string) => boolean> = {
  uuid: (v) => UUID.test(v),
  'date-time': isDateTime,
  uri: isUri,
  email: (v) => /^[^\s@]+@[^\s@]+$/.test(v),
};

const FORMAT_ARBITRARIES: Record<string, () => fc.Arbitrary<string>> = {
  uuid: () => fc.uuid(),
  'date-time': () =>
    fc.oneof(
      fc
        .date({
          min: new Date('1970-01-01T00:00:00Z'),
          max: new Date('2100-01-01T00:00:00Z'),
          noInvalidDate: true,
        })
        .map((d) => d.toISOString()),
      fc.constantFrom('2026-11-01T00:00:00Z', '2026-11-01T01:00:00+01:00', '1999-12-31T23:59:59.999999Z'),
    ),
  uri: () =>
    fc.oneof(
      fc.constantFrom('https://example.com/hooks/outdial', 'http://example.org/a?b=c#d'),
      fc.webUrl({ validSchemes: ['https', 'http'], withQueryParameters: true }),
    ),
};

function validInteger(s: JsonSchema): fc.Arbitrary<number> {
  const min = Math.max(
    s.minimum ?? Number.MIN_SAFE_INTEGER,
    s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : Number.MIN_SAFE_INTEGER,
  );
  const max = Math.min(
    s.maximum ?? Number.MAX_SAFE_INTEGER,
    s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : Number.MAX_SAFE_INTEGER,
  );
  const edges = [min, max, min + 1, max - 1, 0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1].filter(
    (n) => n >= min && n <= max,
  );
  const lo = Math.max(min, -(2 ** 31));
  const hi = Math.min(max, 2 ** 31 - 1);
  const parts: fc.Arbitrary<number>[] = [fc.constantFrom(...edges)];
  if (lo <= hi) parts.push(fc.integer({ min: lo, max: hi }));
  // Beyond 32 bits, mapped into range rather than filtered (a filter that rarely passes never ends).
  if (max - min > 2 ** 32) parts.push(fc.maxSafeNat().map((n) => Math.min(max, min + (n % (max - min + 1)))));
  return fc.oneof(...parts);
}

function validDouble(s: JsonSchema): fc.Arbitrary<number> {
  return fc
    .double({ noNaN: true, noDefaultInfinity: true, min: s.minimum ?? -1e15, max: s.maximum ?? 1e15 })
    .filter((n) => !Object.is(n, -0));
}

function badNumber(s: JsonSchema): fc.Arbitrary<number> {
  const edges: number[] = [...hostileNumbers];
  if (s.minimum !== undefined) edges.push(s.minimum - 1, s.minimum - 0.5, s.minimum - 2 ** 31);
  if (s.maximum !== undefined) edges.push(s.maximum + 1, s.maximum + 0.5, s.maximum * 2 ** 20);
  if (s.exclusiveMinimum !== undefined) edges.push(s.exclusiveMinimum);
  if (s.exclusiveMaximum !== undefined) edges.push(s.exclusiveMaximum);
  return fc.oneof(fc.constantFrom(...edges), fc.double({ noNaN: true, noDefaultInfinity: true }));
}

/** A value of another JSON type than the schema allows. */
function wrongType(s: JsonSchema): fc.Arbitrary<unknown> {
  const types = s.type === undefined ? [] : [s.type].flat();
  const all: Record<string, fc.Arbitrary<unknown>> = {
    string: fc.oneof(fc.constantFrom('', '1', 'true', 'null', '[]', '{}'), fc.string({ maxLength: 8 })),
    integer: fc.oneof(fc.integer(), fc.constantFrom(0, -1, 2 ** 53)),
    number: fc.constantFrom(0.5, -1.25, 1e300),
    boolean: fc.boolean(),
    null: fc.constant(null),
    array: fc.oneof(fc.constant([]), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 })),
    object: fc.oneof(
      fc.constant({}),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
    ),
  };
  const others = Object.entries(all)
    .filter(([t]) => !types.includes(t) && !(t === 'integer' && types.includes('number')))
    .map(([, a]) => a);
  return others.length ? fc.oneof(...others) : fc.constant(undefined);
}

/** Edits that usually turn a conforming string into a non-conforming one. */
function nearMiss(): fc.Arbitrary<(v: string) => string> {
  const inserts = [
    ' ',
    '\u0000',
    '\n',
    '/',
    '..',
    '%00',
    ';',
    '@',
    '&',
    "'",
    '"',
    '\\',
    'é',
    '５',
    '٣',
    '😀',
    '\u202e',
    'a',
    '-',
    '+',
    'Z',
  ];
  return fc.oneof(
    fc.tuple(fc.constantFrom(...inserts), fc.nat()).map(([c, i]) => (v: string) => {
      const at = v.length === 0 ? 0 : i % (v.length + 1);
      return v.slice(0, at) + c + v.slice(at);
    }),
    fc.constantFrom(
      (v: string) => v.slice(1),
      (v: string) => v.slice(0, -1),
      (v: string) => ` ${v}`,
      (v: string) => `${v} `,
      (v: string) => `${v}\n`,
      (v: string) => v.toUpperCase(),
      (v: string) => v.replace(/[0-9]/, 'O'),
      (v: string) => v.replace(/-/g, ''),
    ),
  );
}
