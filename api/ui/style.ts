/** The stylesheet of the reference and the console: readable on a phone, visible focus, no framework. */
export const STYLE_CSS = `
:root { color-scheme: light dark; --fg:#1b1f24; --muted:#57606a; --bg:#ffffff; --panel:#f6f8fa; --line:#d0d7de;
  --accent:#0b5fff; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --radius:8px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 16px; line-height: 1.45; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6edf3; --muted:#9198a1; --bg:#0d1117; --panel:#161b22; --line:#30363d; --accent:#4493f8; } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 8px; z-index: 10; }
header.top { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; justify-content: space-between; padding: 12px 16px; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top h1 { font-size: 1.2rem; margin: 0; }
.layout { display: grid; grid-template-columns: 260px 1fr; min-height: calc(100vh - 60px); }
nav.side { border-right: 1px solid var(--line); padding: 12px; position: sticky; top: 0; max-height: 100vh; overflow: auto; }
nav.side ul { list-style: none; padding: 0; margin: 0 0 12px; } nav.side li { margin: 2px 0; }
nav.side h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 12px 0 4px; }
main { padding: 16px; min-width: 0; }
@media (max-width: 760px) { .layout { grid-template-columns: 1fr; } nav.side { position: static; max-height: none; border-right: 0; border-bottom: 1px solid var(--line); } }
section.op { border: 1px solid var(--line); border-radius: var(--radius); margin: 0 0 20px; padding: 12px 16px; }
.method { display: inline-block; min-width: 4.2em; text-align: center; font-weight: 700; font-size: .8rem; padding: 2px 6px; border-radius: 4px; color: #fff; background: #6e7781; }
.method.get { background: #0969da; } .method.post { background: #1a7f37; } .method.patch { background: #9a6700; } .method.delete { background: #cf222e; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88rem; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: 10px; overflow: auto; max-height: 420px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; } th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; }
th { font-size: .85rem; color: var(--muted); font-weight: 600; }
.table-wrap { overflow-x: auto; }
label { display: block; font-weight: 600; margin: 8px 0 4px; }
input, select, textarea, button { font: inherit; color: inherit; }
input, select, textarea { width: 100%; max-width: 32rem; padding: 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); }
textarea { max-width: 100%; min-height: 8rem; font-family: ui-monospace, Menlo, Consolas, monospace; }
button, .button { display: inline-block; padding: 8px 14px; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); cursor: pointer; text-decoration: none; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
button:disabled { opacity: .6; cursor: not-allowed; }
/* Touch targets of at least 44 px (WCAG 2.5.5, Apple's HIG) wherever a finger is the pointer. */
@media (max-width: 760px), (pointer: coarse) {
  input, select, button, .button { min-height: 44px; } button, .button { min-width: 44px; }
  .skip:focus { padding: 12px; }
}
.row { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; }
.row > * { flex: 1 1 12rem; }
.muted { color: var(--muted); } .small { font-size: .85rem; }
.status { display: inline-block; padding: 2px 8px; border-radius: 999px; font-size: .8rem; font-weight: 600; background: var(--panel); border: 1px solid var(--line); }
.status.completed, .status.answered { color: var(--ok); border-color: var(--ok); }
.status.busy, .status.no_answer, .status.canceled { color: var(--warn); border-color: var(--warn); }
.status.failed { color: var(--bad); border-color: var(--bad); }
.error { color: var(--bad); font-weight: 600; }
.card { border: 1px solid var(--line); border-radius: var(--radius); padding: 12px 16px; margin: 0 0 16px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
details > summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
.prose p, .prose li, .prose td { overflow-wrap: anywhere; }
`;
