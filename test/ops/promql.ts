/**
 * A small PromQL parser for checking alert rules and dashboard queries without promtool: it
 * parses the full expression grammar (selectors, ranges, subqueries, offsets, aggregations with
 * by/without, function calls, binary operators with their precedence and vector matching),
 * checks argument types against the functions it knows, and reports every series selector with
 * its matchers, the function it sits in, and the labels an expression's result carries.
 */

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  /** The metric name, or null for a selector with matchers only. */
  name: string | null;
  matchers: Matcher[];
  /** The innermost function whose argument this selector (or its range) is, if any. */
  fn: string | null;
}

export type Node =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'selector'; selector: Selector; range: boolean }
  | { kind: 'subquery'; expr: Node }
  | { kind: 'call'; fn: string; args: Node[] }
  | {
      kind: 'aggregate';
      op: string;
      grouping: { mode: 'by' | 'without'; labels: string[] } | null;
      args: Node[];
    }
  | {
      kind: 'binary';
      op: string;
      left: Node;
      right: Node;
      matching: { mode: 'on' | 'ignoring'; labels: string[] } | null;
    }
  | { kind: 'unary'; op: string; expr: Node }
  | { kind: 'paren'; expr: Node };

export class PromQLError extends Error {
  override name = 'PromQLError';
}

type Token =
  | { t: 'num'; v: string; at: number }
  | { t: 'dur'; v: string; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'id'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'eof'; v: ''; at: number };

const DURATION = /^(\d+(ms|[smhdwy]))+/;
const NUMBER = /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[iI][nN][fF]|[nN][aA][nN])/;
const IDENT = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const OPERATORS = ['=~', '!~', '==', '!=', '>=', '<=', '>', '<', '=', '+', '-', '*', '/', '%', '^', ','];
const PUNCT = ['(', ')', '{', '}', '[', ']', ':', '@'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i += 1;
      continue;
    }
    const rest = src.slice(i);
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let value = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && c !== '`') {
          value += src[j + 1] ?? '';
          j += 2;
        } else {
          value += src[j];
          j += 1;
        }
      }
      if (j >= src.length) throw new PromQLError(`unterminated string at ${i}`);
      out.push({ t: 'str', v: value, at: i });
      i = j + 1;
      continue;
    }
    const dur = DURATION.exec(rest);
    if (dur && !/^[a-zA-Z0-9_]/.test(rest.slice(dur[0].length))) {
      out.push({ t: 'dur', v: dur[0], at: i });
      i += dur[0].length;
      continue;
    }
    const num = /^[0-9.]/.test(c) ? NUMBER.exec(rest) : null;
    if (num) {
      out.push({ t: 'num', v: num[0], at: i });
      i += num[0].length;
      continue;
    }
    // A name may contain ":" (recording rules) but one starting with it would be a subquery's colon.
    const id = c === ':' ? null : IDENT.exec(rest);
    if (id) {
      out.push({ t: 'id', v: id[0], at: i });
      i += id[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => rest.startsWith(o)) ?? PUNCT.find((p) => rest.startsWith(p));
    if (!op) throw new PromQLError(`unexpected character "${c}" at ${i}`);
    out.push({ t: 'op', v: op, at: i });
    i += op.length;
  }
  out.push({ t: 'eof', v: '', at: src.length });
  return out;
}

const AGGREGATIONS = new Set([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'stddev',
  'stdvar',
  'group',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'limitk',
  'limit_ratio',
]);
/** Aggregations that take a parameter before the vector. */
const PARAMETRIC = new Set(['topk', 'bottomk', 'quantile', 'count_values', 'limitk', 'limit_ratio']);

const V: ValueType = 'vector';
const M: ValueType = 'matrix';
const S: ValueType = 'scalar';
/** Argument types of the functions these checks allow; the last entry may repeat when marked. */
const FUNCTIONS: Record<string, { args: ValueType[]; optional?: number; returns: ValueType }> = {
  rate: { args: [M], returns: V },
  irate: { args: [M], returns: V },
  increase: { args: [M], returns: V },
  delta: { args: [M], returns: V },
  idelta: { args: [M], returns: V },
  deriv: { args: [M], returns: V },
  resets: { args: [M], returns: V },
  changes: { args: [M], returns: V },
  predict_linear: { args: [M, S], returns: V },
  avg_over_time: { args: [M], returns: V },
  min_over_time: { args: [M], returns: V },
  max_over_time: { args: [M], returns: V },
  sum_over_time: { args: [M], returns: V },
  count_over_time: { args: [M], returns: V },
  last_over_time: { args: [M], returns: V },
  quantile_over_time: { args: [S, M], returns: V },
  absent_over_time: { args: [M], returns: V },
  present_over_time: { args: [M], returns: V },
  histogram_quantile: { args: [S, V], returns: V },
  absent: { args: [V], returns: V },
  abs: { args: [V], returns: V },
  ceil: { args: [V], returns: V },
  floor: { args: [V], returns: V },
  round: { args: [V, S], optional: 1, returns: V },
  clamp: { args: [V, S, S], returns: V },
  clamp_min: { args: [V, S], returns: V },
  clamp_max: { args: [V, S], returns: V },
  scalar: { args: [V], returns: S },
  vector: { args: [S], returns: V },
  time: { args: [], returns: S },
  timestamp: { args: [V], returns: V },
  label_replace: { args: [V, 'string', 'string', 'string', 'string'], returns: V },
};

/** Functions after which a counter makes sense, and those after which a gauge does. */
export const COUNTER_FUNCTIONS = new Set(['rate', 'irate', 'increase', 'resets']);
export const GAUGE_FUNCTIONS = new Set(['delta', 'idelta', 'deriv', 'predict_linear']);

const PRECEDENCE: Record<string, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '>': 3,
  '<': 3,
  '>=': 3,
  '<=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  atan2: 5,
  '^': 6,
};
const COMPARISONS = new Set(['==', '!=', '>', '<', '>=', '<=']);
const SET_OPERATORS = new Set(['and', 'or', 'unless']);

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly src: string,
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const token = this.peek();
    this.i += 1;
    return token;
  }
  private fail(message: string, token = this.peek()): never {
    throw new PromQLError(`${message} at ${token.at}: …${this.src.slice(token.at, token.at + 30)}`);
  }
  private expectOp(v: string): void {
    const token = this.next();
    if (token.t !== 'op' || token.v !== v) this.fail(`expected "${v}"`, token);
  }
  private isOp(v: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token.t === 'op' && token.v === v;
  }

  parse(): Node {
    const node = this.expr(0);
    if (this.peek().t !== 'eof') this.fail('unexpected input');
    return node;
  }

  private binaryOp(): string | null {
    const token = this.peek();
    if (token.t === 'op' && token.v in PRECEDENCE) return token.v;
    if (token.t === 'id' && (SET_OPERATORS.has(token.v) || token.v === 'atan2')) return token.v;
    return null;
  }

  private expr(minPrec: number): Node {
    let left = this.unary();
    for (;;) {
      const op = this.binaryOp();
      if (!op) return left;
      const prec = PRECEDENCE[op]!;
      if (prec < minPrec) return left;
      this.next();
      if (this.peek().t === 'id' && this.peek().v === 'bool') {
        if (!COMPARISONS.has(op)) this.fail('bool only follows a comparison');
        this.next();
      }
      let matching: { mode: 'on' | 'ignoring'; labels: string[] } | null = null;
      const word = this.peek();
      if (word.t === 'id' && (word.v === 'on' || word.v === 'ignoring')) {
        this.next();
        matching = { mode: word.v, labels: this.labelList() };
        const group = this.peek();
        if (group.t === 'id' && (group.v === 'group_left' || group.v === 'group_right')) {
          this.next();
          if (this.isOp('(')) this.labelList();
        }
      }
      // ^ is right-associative, everything else left-associative.
      const right = this.expr(op === '^' ? prec : prec + 1);
      left = { kind: 'binary', op, left, right, matching };
    }
  }

  private unary(): Node {
    if (this.isOp('-') || this.isOp('+')) {
      const op = this.next().v;
      return { kind: 'unary', op, expr: this.unary() };
    }
    return this.postfix(this.primary());
  }

  private postfix(node: Node): Node {
    for (;;) {
      if (this.isOp('[')) {
        this.next();
        this.duration();
        if (this.isOp(':')) {
          this.next();
          if (!this.isOp(']')) this.duration();
          this.expectOp(']');
          node = { kind: 'subquery', expr: node };
          continue;
        }
        this.expectOp(']');
        if (node.kind !== 'selector' || node.range) this.fail('a range needs a plain series selector');
        node = { ...node, range: true };
        continue;
      }
      const token = this.peek();
      if (token.t === 'id' && token.v === 'offset') {
        this.next();
        if (this.isOp('-')) this.next();
        this.duration();
        continue;
      }
      if (this.isOp('@')) {
        this.next();
        const at = this.next();
        if (at.t === 'id' && (at.v === 'start' || at.v === 'end')) {
          this.expectOp('(');
          this.expectOp(')');
        } else if (at.t !== 'num') this.fail('expected a timestamp after @', at);
        continue;
      }
      return node;
    }
  }

  private duration(): void {
    const token = this.next();
    if (token.t !== 'dur') this.fail('expected a duration', token);
  }

  private labelList(): string[] {
    this.expectOp('(');
    const labels: string[] = [];
    while (!this.isOp(')')) {
      const token = this.next();
      if (token.t !== 'id') this.fail('expected a label name', token);
      labels.push(token.v);
      if (this.isOp(',')) this.next();
      else if (!this.isOp(')')) this.fail('expected "," or ")"');
    }
    this.next();
    return labels;
  }

  private args(): Node[] {
    this.expectOp('(');
    const args: Node[] = [];
    while (!this.isOp(')')) {
      args.push(this.expr(0));
      if (this.isOp(',')) this.next();
      else if (!this.isOp(')')) this.fail('expected "," or ")"');
    }
    this.next();
    return args;
  }

  private matchers(): Matcher[] {
    this.expectOp('{');
    const matchers: Matcher[] = [];
    while (!this.isOp('}')) {
      const label = this.next();
      if (label.t !== 'id') this.fail('expected a label name', label);
      const op = this.next();
      if (op.t !== 'op' || !['=', '!=', '=~', '!~'].includes(op.v))
        this.fail('expected a matcher operator', op);
      const value = this.next();
      if (value.t !== 'str') this.fail('expected a quoted label value', value);
      if (op.v === '=~' || op.v === '!~') {
        try {
          new RegExp(`^(?:${value.v})$`);
        } catch {
          this.fail(`invalid regular expression ${JSON.stringify(value.v)}`, value);
        }
      }
      matchers.push({ label: label.v, op: op.v as Matcher['op'], value: value.v });
      if (this.isOp(',')) this.next();
      else if (!this.isOp('}')) this.fail('expected "," or "}"');
    }
    this.next();
    return matchers;
  }

  private primary(): Node {
    const token = this.peek();
    if (token.t === 'num') {
      this.next();
      return { kind: 'number', value: Number(token.v) };
    }
    if (token.t === 'str') {
      this.next();
      return { kind: 'string', value: token.v };
    }
    if (this.isOp('(')) {
      this.next();
      const expr = this.expr(0);
      this.expectOp(')');
      return { kind: 'paren', expr };
    }
    if (this.isOp('{')) {
      const matchers = this.matchers();
      if (matchers.length === 0) this.fail('a selector needs a name or a matcher');
      return { kind: 'selector', selector: { name: null, matchers, fn: null }, range: false };
    }
    if (token.t !== 'id') this.fail('expected an expression');
    this.next();
    if (AGGREGATIONS.has(token.v)) {
      let grouping: { mode: 'by' | 'without'; labels: string[] } | null = null;
      const before = this.peek();
      if (before.t === 'id' && (before.v === 'by' || before.v === 'without')) {
        this.next();
        grouping = { mode: before.v, labels: this.labelList() };
      }
      const args = this.args();
      const after = this.peek();
      if (after.t === 'id' && (after.v === 'by' || after.v === 'without')) {
        if (grouping) this.fail('grouping given twice');
        this.next();
        grouping = { mode: after.v, labels: this.labelList() };
      }
      return { kind: 'aggregate', op: token.v, grouping, args };
    }
    if (this.isOp('(')) {
      if (!(token.v in FUNCTIONS)) this.fail(`unknown function "${token.v}"`, token);
      return { kind: 'call', fn: token.v, args: this.args() };
    }
    const keywords = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset'];
    if (keywords.includes(token.v) || SET_OPERATORS.has(token.v))
      this.fail(`unexpected keyword "${token.v}"`, token);
    const matchers = this.isOp('{') ? this.matchers() : [];
    return { kind: 'selector', selector: { name: token.v, matchers, fn: null }, range: false };
  }
}

/** The type an expression evaluates to; throws when an argument or operand has the wrong type. */
export function typeOf(node: Node): ValueType {
  switch (node.kind) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'selector':
      return node.range ? 'matrix' : 'vector';
    case 'subquery':
      if (typeOf(node.expr) !== 'vector') throw new PromQLError('a subquery needs an instant vector');
      return 'matrix';
    case 'paren':
      return typeOf(node.expr);
    case 'unary': {
      const t = typeOf(node.expr);
      if (t !== 'scalar' && t !== 'vector') throw new PromQLError(`unary ${node.op} on a ${t}`);
      return t;
    }
    case 'call': {
      const sig = FUNCTIONS[node.fn]!;
      const min = sig.args.length - (sig.optional ?? 0);
      if (node.args.length < min || node.args.length > sig.args.length) {
        throw new PromQLError(`${node.fn}() takes ${sig.args.length} arguments, got ${node.args.length}`);
      }
      node.args.forEach((arg, i) => {
        const t = typeOf(arg);
        if (t !== sig.args[i])
          throw new PromQLError(`${node.fn}() argument ${i + 1} must be a ${sig.args[i]}, not a ${t}`);
      });
      return sig.returns;
    }
    case 'aggregate': {
      const want: ValueType[] = PARAMETRIC.has(node.op)
        ? [node.op === 'count_values' ? 'string' : 'scalar', 'vector']
        : ['vector'];
      if (node.args.length !== want.length)
        throw new PromQLError(`${node.op}() takes ${want.length} arguments`);
      node.args.forEach((arg, i) => {
        const t = typeOf(arg);
        if (t !== want[i])
          throw new PromQLError(`${node.op}() argument ${i + 1} must be a ${want[i]}, not a ${t}`);
      });
      return 'vector';
    }
    case 'binary': {
      const l = typeOf(node.left);
      const r = typeOf(node.right);
      for (const t of [l, r]) {
        if (t !== 'scalar' && t !== 'vector') throw new PromQLError(`operator ${node.op} on a ${t}`);
      }
      if (SET_OPERATORS.has(node.op) && (l !== 'vector' || r !== 'vector')) {
        throw new PromQLError(`${node.op} needs instant vectors on both sides`);
      }
      if (node.matching && (l !== 'vector' || r !== 'vector')) {
        throw new PromQLError('vector matching needs instant vectors on both sides');
      }
      return l === 'vector' || r === 'vector' ? 'vector' : 'scalar';
    }
  }
}

/** Every series selector in the expression, each with the innermost function it is an argument of. */
export function selectors(node: Node, fn: string | null = null): Selector[] {
  switch (node.kind) {
    case 'selector':
      return [{ ...node.selector, fn }];
    case 'subquery':
    case 'paren':
    case 'unary':
      return selectors(node.expr, fn);
    case 'call':
      return node.args.flatMap((arg) => selectors(arg, node.fn));
    case 'aggregate':
      return node.args.flatMap((arg) => selectors(arg, null));
    case 'binary':
      return [...selectors(node.left, null), ...selectors(node.right, null)];
    default:
      return [];
  }
}

/** Every label named in a by/without/on/ignoring clause. */
export function groupingLabels(node: Node): string[] {
  switch (node.kind) {
    case 'subquery':
    case 'paren':
    case 'unary':
      return groupingLabels(node.expr);
    case 'call':
      return node.args.flatMap(groupingLabels);
    case 'aggregate':
      return [...(node.grouping?.labels ?? []), ...node.args.flatMap(groupingLabels)];
    case 'binary':
      return [...(node.matching?.labels ?? []), ...groupingLabels(node.left), ...groupingLabels(node.right)];
    default:
      return [];
  }
}

/**
 * The labels the result's series carry, given the labels each selector's series carry. Used to
 * check that a legend's {{label}} can be filled in.
 */
export function resultLabels(node: Node, labelsOf: (s: Selector) => Set<string>): Set<string> {
  switch (node.kind) {
    case 'number':
    case 'string':
      return new Set();
    case 'selector':
      return labelsOf(node.selector);
    case 'subquery':
    case 'paren':
    case 'unary':
      return resultLabels(node.expr, labelsOf);
    case 'call': {
      if (node.fn === 'histogram_quantile') {
        const inner = resultLabels(node.args[1]!, labelsOf);
        inner.delete('le');
        return inner;
      }
      if (node.fn === 'vector' || node.fn === 'time' || node.fn === 'scalar') return new Set();
      const vectorArg = node.args.find((a) => {
        const t = typeOf(a);
        return t === 'vector' || t === 'matrix';
      });
      return vectorArg ? resultLabels(vectorArg, labelsOf) : new Set();
    }
    case 'aggregate': {
      const inner = resultLabels(node.args.at(-1)!, labelsOf);
      if (!node.grouping) return new Set();
      if (node.grouping.mode === 'by') return new Set(node.grouping.labels.filter((l) => inner.has(l)));
      for (const l of node.grouping.labels) inner.delete(l);
      return inner;
    }
    case 'binary': {
      const l = typeOf(node.left) === 'vector' ? resultLabels(node.left, labelsOf) : null;
      const r = typeOf(node.right) === 'vector' ? resultLabels(node.right, labelsOf) : null;
      return l ?? r ?? new Set();
    }
  }
}

/** Grafana's interval variables stand for durations; everything else about them is Grafana's. */
export function substituteGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m');
}

export function parsePromQL(src: string): Node {
  const node = new Parser(tokenize(src), src).parse();
  typeOf(node);
  return node;
}
