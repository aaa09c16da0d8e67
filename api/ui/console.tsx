import type { Child } from 'hono/jsx';
import { CALL_STATUSES } from '../shared/contract/index.ts';
import { CAMPAIGNS_CSS, CampaignsView, CampaignView } from './campaigns.tsx';
import { FormEnd, View } from './console-parts.tsx';
import { PageHead } from './page-head.tsx';
import { STYLE_CSS } from './style.ts';
import { Table } from './table.tsx';

/**
 * The operator console at /console: server-rendered with hono/jsx, brought to life by one small
 * script that talks to the public JSON API (the same routes any client uses) with a bearer token
 * kept in sessionStorage (its modules are in ./console/). No build step, nothing from a CDN.
 */

export { CONSOLE_JS } from './console/script.ts';
export const CONSOLE_CSS = `${STYLE_CSS}
.console-main { max-width: 1100px; margin: 0 auto; padding: 16px; }
nav.tabs { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
nav.tabs a[aria-current="page"] { font-weight: 700; text-decoration: underline; }
dl.details { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dl.details dt { color: var(--muted); } dl.details dd { margin: 0; overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0; }
.notice { padding: 8px 12px; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); }
@media (max-width: 600px) { dl.details { grid-template-columns: 1fr; } th.optional, td.optional { display: none; } }
#flow-path li { margin: 4px 0; overflow-wrap: anywhere; }
ul.recordings { list-style: none; padding: 0; } ul.recordings li { margin: 0 0 12px; }
ul.recordings audio { display: block; width: 100%; max-width: 32rem; min-height: 44px; }
ul.recordings a { margin-right: 12px; }
.error .field-error { display: block; font-weight: 400; margin-top: 4px; }
#users-table select { width: auto; min-width: 7rem; }
dialog { max-width: min(32rem, calc(100vw - 32px)); padding: 16px 20px; border: 1px solid var(--line); border-radius: var(--radius); color: var(--fg); background: var(--bg); }
dialog::backdrop { background: rgb(0 0 0 / .45); }
dialog h2 { font-size: 1.15rem; margin: 0 0 8px; }
${CAMPAIGNS_CSS}
@media (max-width: 760px), (pointer: coarse) {
  nav.tabs a, .console-main a[href] { display: inline-flex; align-items: center; min-height: 44px; min-width: 44px; }
}
`;

/**
 * A call's flow (filled in by ./console/flow.client.ts): how it ended, the steps run in order, the
 * answers, and a player for each recording. Hidden for a call without a flow.
 */
function FlowSection() {
  return (
    <section id="call-flow" aria-labelledby="flow-title" hidden>
      <h3 id="flow-title">Flow</h3>
      <p id="flow-end" role="status" aria-live="polite" />
      <h4 id="flow-path-title">Steps run</h4>
      <ol id="flow-path" aria-labelledby="flow-path-title" />
      <p id="flow-path-empty" class="muted">
        No step has run yet.
      </p>
      <h4>Answers</h4>
      <dl class="details" id="flow-answers" />
      <p id="flow-answers-empty" class="muted">
        No answers yet.
      </p>
      <h4 id="flow-recordings-title">Recordings</h4>
      <ul id="flow-recordings" class="recordings" aria-labelledby="flow-recordings-title" />
      <p id="flow-recordings-empty" class="muted">
        No recordings.
      </p>
    </section>
  );
}

export function ConsolePage(props: { appName: string; contexts: string[]; defaultContext: string }): Child {
  return (
    <html lang="en">
      <PageHead title={`${props.appName} console`} path="/console" />
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <h1>{props.appName} console</h1>
          <nav class="tabs" aria-label="Console" id="nav" hidden>
            <a href="#/calls" data-nav="calls">
              Calls
            </a>
            <a href="#/campaigns" data-nav="campaigns">
              Campaigns
            </a>
            <a href="#/users" data-nav="users" data-admin-only hidden>
              Users
            </a>
            <span class="muted small" id="whoami" />
            <button type="button" id="logout">
              Log out
            </button>
          </nav>
        </header>
        <main id="main" class="console-main" tabindex={-1}>
          <p id="flash" class="notice" role="status" aria-live="polite" hidden />

          <section id="login-view" aria-labelledby="login-title">
            <h2 id="login-title">Log in</h2>
            <form id="login-form" class="card" novalidate>
              <label for="login-username">Username</label>
              <input id="login-username" name="username" autocomplete="username" required />
              <label for="login-password">Password</label>
              <input
                id="login-password"
                name="password"
                type="password"
                autocomplete="current-password"
                required
              />
              <FormEnd errorId="login-error" submit="Log in" />
            </form>
          </section>

          <View name="calls" title="Calls">
            <form id="originate-form" class="card" aria-labelledby="originate-title" data-can-originate>
              <h3 id="originate-title">Place a call</h3>
              <div class="row">
                <div>
                  <label for="originate-number">Phone number</label>
                  <input
                    id="originate-number"
                    name="phone_number"
                    inputmode="tel"
                    autocomplete="off"
                    required
                    aria-describedby="originate-number-help"
                  />
                  <p id="originate-number-help" class="small muted">
                    An optional + then digits, 7 to 20 characters.
                  </p>
                </div>
                <div>
                  <label for="originate-context">Context</label>
                  <select id="originate-context" name="context">
                    {props.contexts.map((ctx) => (
                      <option value={ctx} selected={ctx === props.defaultContext}>
                        {ctx}
                      </option>
                    ))}
                  </select>
                </div>
                <div>
                  <label for="originate-caller-id">Caller id (optional)</label>
                  <input id="originate-caller-id" name="caller_id" autocomplete="off" />
                </div>
                <div id="originate-sidecar-field" hidden>
                  <label for="originate-sidecar">Sidecar</label>
                  <select id="originate-sidecar" name="sidecar_id">
                    <option value="">any (the least loaded that is up)</option>
                  </select>
                </div>
                <div>
                  <label for="originate-timeout">Ring timeout, seconds (optional)</label>
                  <input
                    id="originate-timeout"
                    name="timeout"
                    type="number"
                    min="1"
                    max="600"
                    inputmode="numeric"
                  />
                </div>
              </div>
              <label for="originate-flow">Flow (optional)</label>
              <textarea
                id="originate-flow"
                name="flow"
                rows={6}
                spellcheck={false}
                autocomplete="off"
                aria-describedby="originate-flow-help"
              />
              <p id="originate-flow-help" class="small muted">
                What the callee hears and is asked once they answer: a JSON list of steps, such as{' '}
                <code>
                  [{'{'}"verb": "play", "media": ["sound:hello-world"]{'}'}]
                </code>
                . Empty: the dialplan of the context runs.
              </p>
              <FormEnd errorId="originate-error" submit="Call" />
            </form>

            <section id="sidecars" aria-labelledby="sidecars-title">
              <h3 id="sidecars-title">Sidecars</h3>
              <p id="sidecars-note" class="small muted" role="status" aria-live="polite" />
              <Table
                id="sidecars-table"
                caption="Each sidecar's state, and its calls not yet final against what it takes at once"
                columns={['Sidecar', 'State', 'Load', { label: 'Why not up', optional: true }]}
              />
              <p>
                <button type="button" id="sidecars-refresh">
                  Refresh
                </button>
              </p>
            </section>

            <form id="filter-form" class="row" aria-label="Filter calls">
              <div>
                <label for="filter-status">Status</label>
                <select id="filter-status" name="status">
                  <option value="">any</option>
                  {CALL_STATUSES.map((s) => (
                    <option value={s}>{s}</option>
                  ))}
                </select>
              </div>
              <div>
                <label for="filter-number">Phone number</label>
                <input id="filter-number" name="phone_number" inputmode="tel" autocomplete="off" />
              </div>
              <div>
                <button type="submit">Filter</button>
              </div>
            </form>
            <Table
              id="calls-table"
              caption="Calls, newest first; statuses update live"
              columns={[
                'Call',
                'Number',
                'Status',
                { label: 'Reason', optional: true },
                { label: 'Created', optional: true },
              ]}
            />
            <p id="calls-empty" class="muted" hidden>
              No calls yet.
            </p>
            <p>
              <button type="button" id="calls-more" hidden>
                Load more
              </button>
            </p>
          </View>

          <View
            name="call"
            title="Call"
            lead={
              <p>
                <a href="#/calls">← All calls</a>
              </p>
            }
          >
            <div id="call-body">
              <p>
                Status:{' '}
                <span id="call-status" class="status" role="status" aria-live="polite">
                  …
                </span>
              </p>
              <div class="actions">
                <button type="button" id="hangup" class="danger" hidden>
                  Hang up
                </button>
              </div>
              <dl class="details" id="call-details" />
              <FlowSection />
              <h3>Event log</h3>
              <Table
                id="events-table"
                caption="What happened to the call, in order"
                columns={['#', 'Event', 'Status', 'Time', { label: 'Details', optional: true }]}
              />
              <h3>Webhook deliveries</h3>
              <Table
                id="webhooks-table"
                caption="Status webhooks of this call and their attempts"
                columns={['Status', 'State', 'Attempts', { label: 'Last result', optional: true }]}
              />
              <p id="webhooks-empty" class="muted" hidden>
                This call has no status webhook.
              </p>
            </div>
          </View>

          <CampaignsView />
          <CampaignView />

          <View name="users" title="Users">
            <form id="user-form" class="card" aria-labelledby="user-form-title">
              <h3 id="user-form-title">Add a user</h3>
              <div class="row">
                <div>
                  <label for="user-username">Username</label>
                  <input id="user-username" name="username" autocomplete="off" required minlength={3} />
                </div>
                <div>
                  <label for="user-password">Password</label>
                  <input
                    id="user-password"
                    name="password"
                    type="password"
                    autocomplete="new-password"
                    required
                    minlength={8}
                  />
                </div>
                <div>
                  <label for="user-role">Role</label>
                  <select id="user-role" name="role">
                    <option value="operator">operator</option>
                    <option value="viewer">viewer</option>
                    <option value="admin">admin</option>
                  </select>
                </div>
              </div>
              <FormEnd errorId="user-error" submit="Add user" />
            </form>
            <Table id="users-table" caption="Users" columns={['Username', 'Role', 'Active', 'Actions']} />
          </View>
        </main>
        <dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text">
          <h2 id="confirm-title">Are you sure?</h2>
          <p id="confirm-text" />
          <div class="actions">
            <button type="button" id="confirm-cancel">
              Cancel
            </button>
            <button type="button" id="confirm-ok" class="danger">
              Confirm
            </button>
          </div>
        </dialog>
      </body>
    </html>
  );
}
