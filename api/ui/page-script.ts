/**
 * A page script made of TypeScript functions served as their source text, with no build step:
 * `statements` (each one usually calls one function, `(${fn})(…)`) run in one scope.
 *
 * Whatever bundled the server may have written into that text calls it never defines: wrangler's
 * esbuild keeps function names (its `keep_names`, on by default) by inserting calls to its own
 * `__name` helper into function bodies, and the browser has no such helper. The script brings a
 * stand-in that does nothing: a function's name only shows in stack traces.
 */
export function pageScript(statements: string[]): string {
  return `(() => {
const __name = (target) => target;
${statements.join('\n')}
})();
`;
}
