/** Modules the Worker's bundler loads as text (wrangler.toml [[rules]] type = "Text"). */
declare module '@scalar/api-reference/browser/standalone.js' {
  const source: string;
  export default source;
}
