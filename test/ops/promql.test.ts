import { describe, expect, test } from 'bun:test';
import {
  groupingLabels,
  PromQLError,
  parsePromQL,
  resultLabels,
  selectors,
  substituteGrafanaVariables,
} from './promql.ts';

describe('the PromQL checker', () => {
  test('parses selectors, ranges, aggregations, functions and operators with their precedence', () => {
    const ast = parsePromQL(
      'sum by (le) (rate(x_bucket{job="a", path!~"/b|/c"}[5m])) / on (job) group_left sum(y{job="a"}) > 0.5 and z offset 1h',
    );
    expect(ast.kind).toBe('binary');
    expect(ast.kind === 'binary' && ast.op).toBe('and');
    expect(
      selectors(ast).map((s) => [s.name, s.fn, s.matchers.map((m) => `${m.label}${m.op}${m.value}`)]),
    ).toEqual([
      ['x_bucket', 'rate', ['job=a', 'path!~/b|/c']],
      ['y', null, ['job=a']],
      ['z', null, []],
    ]);
    expect(groupingLabels(ast).sort()).toEqual(['job', 'le']);
    expect(parsePromQL('2 ^ 3 ^ 2').kind).toBe('binary');
    expect(parsePromQL('max_over_time(rate(a[1m])[10m:1m])').kind).toBe('call');
    expect(parsePromQL('sum(rate(a[5m])) by (b)').kind).toBe('aggregate');
    expect(parsePromQL('topk(3, a)').kind).toBe('aggregate');
    expect(parsePromQL('-a{b="c"} * 2').kind).toBe('binary');
  });

  test.each([
    ['rate(a)', 'matrix'],
    ['histogram_quantile(a[5m], b)', 'scalar'],
    ['sum(a[5m])', 'vector'],
    ['rat(a[5m])', 'unknown function'],
    ['sum(a', 'expected'],
    ['a{b="c"', 'expected'],
    ['a{b=~"("}', 'invalid regular expression'],
    ['a[5]', 'duration'],
    ['sum by (a) (b) by (c)', 'twice'],
    ['1 and 2', 'instant vectors'],
    ['a > bool', 'expected an expression'],
    ['a b', 'unexpected input'],
    ['{}', 'name or a matcher'],
    ['a{b="c}', 'unterminated'],
  ])('refuses %s', (expr, message) => {
    expect(() => parsePromQL(expr)).toThrow(PromQLError);
    expect(() => parsePromQL(expr)).toThrow(message);
  });

  test("tells which labels a result keeps, and reads Grafana's interval variables as durations", () => {
    const labels = (expr: string) =>
      [...resultLabels(parsePromQL(expr), () => new Set(['job', 'instance', 'path', 'le']))].sort();
    expect(labels('rate(a[5m])')).toEqual(['instance', 'job', 'le', 'path']);
    expect(labels('sum(rate(a[5m]))')).toEqual([]);
    expect(labels('sum by (path, nope) (rate(a[5m]))')).toEqual(['path']);
    expect(labels('sum without (le) (a)')).toEqual(['instance', 'job', 'path']);
    expect(labels('histogram_quantile(0.9, sum by (le, path) (rate(a[5m])))')).toEqual(['path']);
    expect(labels('a > 1')).toEqual(['instance', 'job', 'le', 'path']);
    expect(substituteGrafanaVariables('rate(a[$__rate_interval])')).toBe('rate(a[5m])');
  });
});
