import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * What the package is built from (index.ts and every module it reaches) may import nothing but
 * itself, the contract modules it is built with, and openapi-fetch: anything else would be missing
 * where the package is installed (the e2e step proves that by installing it; this says which import
 * at once). The package's own openapi-fetch is the repository's.
 */

const CLIENT = import.meta.dir;
const ROOT = resolve(CLIENT, '..', '..');
const pkg = JSON.parse(readFileSync(join(CLIENT, 'package.json'), 'utf8'));
const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** Every module specifier a file names: static and type imports, re-exports, import(). */
function specifiers(text: string): string[] {
  return [
    ...text.matchAll(/\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g),
    ...text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
}

function reached(entry: string): { files: string[]; packages: Map<string, string[]> } {
  const files: string[] = [];
  const packages = new Map<string, string[]>();
  const visit = (file: string) => {
    if (files.includes(file)) return;
    files.push(file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else packages.set(spec, [...(packages.get(spec) ?? []), relative(ROOT, file)]);
    }
  };
  visit(entry);
  return { files: files.map((f) => relative(ROOT, f)).sort(), packages };
}

describe('the package @outdial/client', () => {
  const { files, packages } = reached(join(CLIENT, 'index.ts'));

  test('imports no package but openapi-fetch, from any module it is built from', () => {
    expect(Object.fromEntries(packages)).toEqual({ 'openapi-fetch': ['api/client/client.ts'] });
    expect(files).toContain('api/shared/contract/webhook-signature.ts');
    expect(
      files.filter((f) => !f.startsWith('api/client/') && !f.startsWith('api/shared/contract/')),
    ).toEqual([]);
  });

  test('depends on openapi-fetch as the repository does, and exports the built index with its types', () => {
    expect(pkg.dependencies).toEqual({ 'openapi-fetch': rootPkg.dependencies['openapi-fetch'] });
    expect(pkg.type).toBe('module');
    expect(pkg.exports['.']).toEqual({ types: './dist/client/index.d.ts', import: './dist/client/index.js' });
    expect(pkg.engines.node).toBe(rootPkg.engines.node);
  });
});
