import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigSchema } from '../../api/config.ts';
import { SimEnv } from '../../asterisk/sim/config.ts';
import { SidecarEnv } from '../../sidecar/config.ts';

/**
 * The README's configuration tables are the operator's reference: every variable the API and the
 * sidecar read is listed there, and where a row names one variable and one literal default, that
 * default is the one the code applies.
 */

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

interface Row {
  name: string;
  /** The literal default the row states, when it states one. */
  literal?: string;
}

/** The rows of the table under `### <heading>`, one per variable they name. */
function tableUnder(heading: string): Row[] {
  const lines = readme.split('\n');
  const from = lines.indexOf(`### ${heading}`);
  if (from < 0) throw new Error(`README has no "### ${heading}" section`);
  const rows: Row[] = [];
  for (const line of lines.slice(from + 1)) {
    if (line.startsWith('#')) break;
    if (!line.startsWith('| `')) continue;
    const [names = '', defaults = ''] = line.slice(2).split(' | ');
    const vars = [...names.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
    const literals = [...defaults.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);
    // Only a cell made of nothing but one literal per variable states defaults that can be checked.
    const onlyLiterals = defaults.replace(/`[^`]*`/g, '').replace(/[\s,]/g, '') === '';
    const stated = onlyLiterals && literals.length === vars.length;
    for (const [i, name] of vars.entries()) rows.push({ name, literal: stated ? literals[i] : undefined });
  }
  return rows;
}

/** Variables read outside the schemas, by the file that reads them. */
const READ_ELSEWHERE: Record<string, string> = { NEON_WS_PROXY: 'api/entry/worker.ts' };

function defaultOf(schema: z.ZodType): string | undefined {
  const parsed = schema.safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return undefined;
  return Array.isArray(parsed.data) ? parsed.data.join(',') : String(parsed.data);
}

for (const [heading, shape] of [
  ['API', ConfigSchema.shape],
  ['Sidecar', SidecarEnv.shape],
] as const) {
  describe(`README configuration: ${heading}`, () => {
    const entries = Object.entries(shape as Record<string, z.ZodType>);
    const rows = tableUnder(heading);

    test('every variable the code reads has a row, and every row a variable the code reads', () => {
      const listed = new Set(rows.map((r) => r.name));
      expect(entries.map(([name]) => name).filter((name) => !listed.has(name))).toEqual([]);
      const unread = rows
        .map((r) => r.name)
        .filter((name) => !(name in shape))
        .filter((name) => {
          const file = READ_ELSEWHERE[name];
          return (
            !file || !readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').includes(`.${name}`)
          );
        });
      expect(unread).toEqual([]);
    });

    test('each stated default is the one the code applies', () => {
      const wrong: string[] = [];
      let checked = 0;
      for (const row of rows) {
        const schema = (shape as Record<string, z.ZodType>)[row.name];
        const actual = schema && defaultOf(schema);
        if (row.literal === undefined || actual === undefined) continue;
        checked++;
        if (row.literal !== actual)
          wrong.push(`${row.name}: README says ${row.literal}, code applies ${actual}`);
      }
      expect(wrong).toEqual([]);
      expect(checked).toBeGreaterThan(entries.length / 2);
    });
  });
}

describe('README configuration: ARI simulator (asterisk/sim/README.md)', () => {
  const simReadme = readFileSync(new URL('../../asterisk/sim/README.md', import.meta.url), 'utf8');
  const lines = simReadme.split('\n');
  const from = lines.indexOf('## Run it');
  const section = lines.slice(
    from + 1,
    lines.findIndex((l, i) => i > from && l.startsWith('#')),
  );

  test('names every variable the simulator reads, with the default the code applies where it states one', () => {
    expect(from).toBeGreaterThan(0);
    const shape = SimEnv.shape as Record<string, z.ZodType>;
    const text = section.join(' ');
    expect(Object.keys(shape).filter((name) => !text.includes(`\`${name}\``))).toEqual([]);
    // Rows such as | `A` / `B` | `a` / `b` | pair each variable with its default, in order.
    const stated: Array<[string, string]> = [];
    for (const line of section) {
      const cells = line.split('|').map((c) => c.trim());
      if (!cells[1]?.startsWith('`') || !cells[2]?.startsWith('`')) continue;
      const names = [...cells[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
      const literals = [...cells[2].matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      if (names.length !== literals.length) continue;
      for (const [i, n] of names.entries()) stated.push([n, literals[i]!]);
    }
    expect(stated.length).toBeGreaterThanOrEqual(4);
    for (const [name, literal] of stated) {
      expect({ name, default: defaultOf(shape[name]!) }).toEqual({ name, default: literal });
    }
  });
});
