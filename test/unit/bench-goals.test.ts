import { expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOALS, goalsMarkdown } from '../bench/goals.ts';

/** The bench README lists the goals the bench judges, from the one module that defines them. */
test('test/bench/README.md holds the goals table of test/bench/goals.ts', () => {
  const readme = readFileSync(join(import.meta.dir, '..', 'bench', 'README.md'), 'utf8');
  expect(readme).toContain(`${goalsMarkdown()}\n`);
});

test('every goal names a bench that npm run bench knows', () => {
  const runner = readFileSync(join(import.meta.dir, '..', 'bench', 'run.ts'), 'utf8');
  for (const goal of GOALS)
    expect(runner).toContain(`  ${/^[a-z]+$/.test(goal.bench) ? goal.bench : `'${goal.bench}'`}: () =>`);
});
