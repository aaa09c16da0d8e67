import { expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigSchema } from '../../api/config.ts';
import { SidecarEnv } from '../../sidecar/config.ts';

/**
 * What the docs name exists. The docs are the README files and the API guide, which lives in the
 * OpenAPI document (its top description, its tags' and its operations' descriptions, shown at
 * /docs): the guide's route table lists exactly the operations of the document (plus the pages that
 * are not API operations); every `npm run` script, file, link and configuration variable they
 * mention is real; the statuses the outcome tables give are the API's.
 */

const ROOT = join(import.meta.dir, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Spec {
  info: { description: string };
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, { description?: string }>>;
  components: { schemas: { Call: { properties: { status: { enum: string[] } } } } };
}
const spec = JSON.parse(read('api/client/openapi.json')) as Spec;

/** The guide: every description of the document, in CommonMark. */
const guide = [
  spec.info.description,
  ...spec.tags.map((t) => t.description),
  ...Object.values(spec.paths).flatMap((ops) => Object.values(ops).map((op) => op.description ?? '')),
].join('\n\n');

const MARKDOWN_FILES = [
  'README.md',
  'test/README.md',
  'asterisk/README.md',
  'asterisk/sim/README.md',
  'api/deploy/README.md',
];
const docs = MARKDOWN_FILES.map((path) => ({ path, text: read(path) }));
const everything = [guide, ...docs.map((d) => d.text)].join('\n\n');

/** Served, but not operations of the document: the reference, the document itself, the console. */
const PAGES = ['GET /docs', 'GET /openapi.json', 'GET /console'];

/** The lines of the part of `text` under `heading`, up to the next heading. */
function section(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const from = lines.indexOf(heading);
  if (from < 0) throw new Error(`no "${heading}" section`);
  const rest = lines.slice(from + 1);
  const end = rest.findIndex((line) => line.startsWith('#'));
  return end < 0 ? rest : rest.slice(0, end);
}

function guideOperations(): string[] {
  const ops: string[] = [];
  for (const line of section(spec.info.description, '### Who may call what')) {
    const cells = line.split(' | ');
    const methods = /^\| ([A-Z, ]+)$/.exec(cells[0] ?? '')?.[1];
    if (!methods || cells.length < 3) continue;
    const paths = [...(cells[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    for (const method of methods.split(', ')) for (const path of paths) ops.push(`${method} ${path}`);
  }
  return ops.sort();
}

test("the guide's route table lists every operation of the OpenAPI document, and nothing else", () => {
  const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
  );
  expect(documented.length).toBeGreaterThan(20);
  expect(guideOperations()).toEqual([...documented, ...PAGES].sort());
});

test('every `npm run` script the docs mention exists', () => {
  const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  const named = [...new Set([...everything.matchAll(/npm run ([a-z][a-z:-]*)/g)].map((m) => m[1]!))];
  expect(named.length).toBeGreaterThan(10);
  expect(named.filter((name) => !(name in scripts))).toEqual([]);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

test('every relative link in the docs leads to a file that exists, and to a heading it has', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const { path, text } of docs) {
    for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target) || target.startsWith('/')) continue;
      const [file = '', anchor] = target.split('#');
      const resolved = file === '' ? path : join(dirname(path), file);
      checked++;
      if (!existsSync(join(ROOT, resolved))) {
        broken.push(`${path}: ${target} (no ${resolved})`);
        continue;
      }
      if (anchor === undefined) continue;
      const headings = [...read(resolved).matchAll(/^#{1,6} +(.+)$/gm)].map((m) => anchorOf(m[1]!));
      if (!headings.includes(anchor))
        broken.push(`${path}: ${target} (no heading #${anchor} in ${resolved})`);
    }
  }
  expect(broken).toEqual([]);
  expect(checked).toBeGreaterThan(8);
});

test('every file of the repository the docs name in code exists', () => {
  const named = new Set(
    [
      ...everything.matchAll(
        /`((?:api|db|sidecar|asterisk|test)\/[\w./-]+\.(?:ts|tsx|mjs|json|yml|conf|md|sh))(?::\w+)?`/g,
      ),
    ].map((m) => m[1]!),
  );
  expect(named.size).toBeGreaterThan(10);
  expect([...named].filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
});

test('every configuration variable the API guide names is one the API, the sidecar or the example reads', () => {
  const readByCode = new Set([...Object.keys(ConfigSchema.shape), ...Object.keys(SidecarEnv.shape)]);
  const named = new Set([...guide.matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g)].map((m) => m[0]));
  // Caller variables on the channel (OUTDIAL_VAR_<name>) are not configuration.
  const variables = [...named].filter((name) => !name.startsWith('OUTDIAL_VAR_'));
  expect(variables.length).toBeGreaterThan(15);
  // The typed client's example reads its own settings.
  const example = read('api/client/example.ts');
  const unread = variables.filter((name) => !readByCode.has(name) && !example.includes(`env.${name}`));
  expect(unread).toEqual([]);
});

test('the outcome tables of the docs give only statuses the API has', () => {
  const statuses = spec.components.schemas.Call.properties.status.enum;
  expect(statuses.length).toBeGreaterThan(5);
  const given: string[] = [];
  for (const [text, heading] of [
    [spec.tags.find((t) => t.name === 'Calls')?.description ?? '', '### Statuses and outcomes'],
    [read('asterisk/README.md'), '## With the ARI simulator'],
  ] as const) {
    for (const line of section(text, heading).filter((l) => l.startsWith('|'))) {
      const cells = line.split(' | ');
      // The status is the first code span of the status cell: `busy` in "`busy` / `rejected`".
      const cell = cells.find((c, i) => i > 0 && /^`[a-z_]+`/.test(c.trim()));
      const status = cell && /`([a-z_]+)`/.exec(cell)?.[1];
      if (status) given.push(status);
    }
  }
  expect(given.length).toBeGreaterThanOrEqual(20);
  expect(given.filter((s) => !statuses.includes(s))).toEqual([]);
});
