import { expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';

/**
 * What the READMEs name exists: the route table lists exactly the operations of the OpenAPI
 * document (plus the pages that are not API operations), and every `npm run` script they mention
 * is in package.json.
 */

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const spec = JSON.parse(readFileSync(new URL('../../api/client/openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
};

/** Served, but not operations of the document: the reference, the document itself, the console. */
const PAGES = ['GET /docs', 'GET /openapi.json', 'GET /console'];

function readmeOperations(): string[] {
  const lines = readme.split('\n');
  const from = lines.indexOf('## The API');
  if (from < 0) throw new Error('README has no "## The API" section');
  const ops: string[] = [];
  for (const line of lines.slice(from + 1)) {
    if (line.startsWith('#')) break;
    const cells = line.split(' | ');
    const methods = /^\| ([A-Z, ]+)$/.exec(cells[0] ?? '')?.[1];
    if (!methods || cells.length < 3) continue;
    const paths = [...(cells[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    for (const method of methods.split(', ')) for (const path of paths) ops.push(`${method} ${path}`);
  }
  return ops.sort();
}

test("the README's route table lists every operation of the OpenAPI document, and nothing else", () => {
  const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
  );
  expect(documented.length).toBeGreaterThan(20);
  expect(readmeOperations()).toEqual([...documented, ...PAGES].sort());
});

test('every `npm run` script the READMEs mention exists', () => {
  const { scripts } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const text = readme + readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const named = [...new Set([...text.matchAll(/npm run ([a-z][a-z:-]*)/g)].map((m) => m[1]!))];
  expect(named.length).toBeGreaterThan(10);
  expect(named.filter((name) => !(name in scripts))).toEqual([]);
});
