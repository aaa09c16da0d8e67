import { expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * `outdial` works on a running server through its API only: none of its modules imports the
 * database layer, the routes, the services or an entry; what it stands on is the published
 * client, the shared contract, and small pure helpers of api/auth.
 */

const ROOT = resolve(import.meta.dir, '..', '..');
const CLI = join(ROOT, 'api', 'cli', 'outdial');
const FILES = [
  join(ROOT, 'api', 'cli', 'outdial.ts'),
  ...readdirSync(CLI)
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .map((name) => join(CLI, name)),
];
const ALLOWED = [
  'api/client/index.ts',
  'api/shared/',
  'api/auth/scopes.ts',
  'api/auth/credentials.ts',
  'api/cli/',
];

test('outdial imports no database, route, service or entry module', () => {
  expect(FILES.length).toBeGreaterThan(8);
  const outside: string[] = [];
  for (const file of FILES) {
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(/\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g)].map(
      (m) => m[1]!,
    );
    for (const spec of specifiers.filter((s) => s.startsWith('.'))) {
      const target = relative(ROOT, resolve(dirname(file), spec));
      if (!ALLOWED.some((a) => target === a || target.startsWith(a))) {
        outside.push(`${relative(ROOT, file)} → ${target}`);
      }
    }
  }
  expect(outside).toEqual([]);
});
