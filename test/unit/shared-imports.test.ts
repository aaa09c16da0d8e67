import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * `api/shared/` is what both processes stand on, so it stands on nothing of either: a module
 * there imports only other modules there and npm packages (Biome's import fence says the same to
 * editors; this holds it for every form of import, dynamic ones included).
 */

const ROOT = resolve(import.meta.dir, '..', '..');
const SHARED = join(ROOT, 'api', 'shared');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Every module specifier a file names: static and type imports, re-exports, import(). */
function specifiers(text: string): string[] {
  const found = [
    ...text.matchAll(/\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g),
    ...text.matchAll(/\bimport\s*['"]([^'"]+)['"]/g),
    ...text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
  ];
  return found.map((m) => m[1]!);
}

describe('api/shared imports nothing outside api/shared', () => {
  const files = sources(SHARED);

  test('it has modules to check', () => {
    expect(files.map((f) => relative(SHARED, f))).toContain(join('base', 'env.ts'));
  });

  test('every relative import stays inside it; no path aliases or absolute paths', () => {
    const outside: string[] = [];
    for (const file of files) {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        const local =
          spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('~') || spec.startsWith('@/');
        if (!local) continue;
        const target = resolve(dirname(file), spec);
        if (!spec.startsWith('.') || !target.startsWith(`${SHARED}/`)) {
          outside.push(`${relative(ROOT, file)} imports ${spec}`);
        }
      }
    }
    expect(outside).toEqual([]);
  });

  test('the check sees an import that leaves it', () => {
    expect(specifiers('import { x } from \'../../db/errors.ts\';\nimport type { Y } from "./y.ts";')).toEqual(
      ['../../db/errors.ts', './y.ts'],
    );
    expect(specifiers("const m = await import('../lib/logger.ts');\nexport * from './z.ts';")).toEqual([
      './z.ts',
      '../lib/logger.ts',
    ]);
  });
});
