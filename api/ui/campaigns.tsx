import {
  ATTEMPT_OUTCOMES,
  CAMPAIGN_STATES,
  CONTACT_STATES,
  RETRY_OUTCOMES,
} from '../shared/contract/index.ts';
import { FormEnd, View } from './console-parts.tsx';
import { Table } from './table.tsx';

/**
 * The console's campaigns: the list with the form that creates one, and one campaign's page (its
 * state and actions, live counters, progress and chart, contacts upload, contacts and export).
 * Filled in by ./console/campaigns.client.ts and ./console/campaign.client.ts.
 */

export const CAMPAIGNS_CSS = `
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; padding: 4px 12px 12px; min-width: 0; }
legend { font-weight: 600; padding: 0 4px; }
.days { display: flex; flex-wrap: wrap; gap: 6px; }
label.check { display: inline-flex; align-items: center; gap: 6px; margin: 0; padding: 0 10px; min-height: 36px; font-weight: 400; border: 1px solid var(--line); border-radius: 6px; cursor: pointer; }
label.check input[type="checkbox"] { width: 1.1rem; height: 1.1rem; min-height: 0; margin: 0; }
fieldset.window .row { align-items: start; }
.retry-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0 12px; }
.field-note { display: block; color: var(--bad); font-weight: 600; margin-top: 4px; }
[aria-invalid="true"] { border-color: var(--bad); }
progress { width: 100%; max-width: 32rem; height: 1.2rem; }
td progress { max-width: 10rem; display: block; }
.counters { display: grid; grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr)); gap: 8px; margin: 8px 0; padding: 0; }
.counters div { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
.counters dt { color: var(--muted); font-size: .85rem; } .counters dd { margin: 0; font-size: 1.2rem; font-weight: 700; }
figure.chart { margin: 8px 0 16px; } figure.chart svg { display: block; width: 100%; height: auto; max-width: 48rem; }
.chart-axis { fill: var(--muted); font-size: 11px; } .chart-grid { stroke: var(--line); }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 0; margin: 6px 0; }
ul.legend li { display: inline-flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: .9rem; height: .9rem; border-radius: 2px; }
${ATTEMPT_OUTCOMES.map((o, i) => `.o-${o} { fill: var(--o${i}); background: var(--o${i}); }`).join('\n')}
:root { --o0:#1a7f37; --o1:#9a6700; --o2:#8250df; --o3:#cf222e; --o4:#0969da; --o5:#6e7781; --o6:#bf3989; }
@media (max-width: 760px), (pointer: coarse) { label.check { min-height: 44px; min-width: 44px; } }
`;

/** A labelled number field, optional, whose refusal the script shows under it (`data-pointer`). */
function NumberField(props: {
  id: string;
  name: string;
  label: string;
  min: number;
  max: number;
  help?: string;
}) {
  return (
    <div>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.name}
        type="number"
        inputmode="numeric"
        min={String(props.min)}
        max={String(props.max)}
        data-pointer={`/${props.name}`}
        aria-describedby={props.help ? `${props.id}-help` : undefined}
      />
      {props.help ? (
        <p id={`${props.id}-help`} class="small muted">
          {props.help}
        </p>
      ) : null}
    </div>
  );
}

function CreateForm() {
  return (
    <form id="campaign-form" class="card" aria-labelledby="campaign-form-title" novalidate data-can-write>
      <h3 id="campaign-form-title">New campaign</h3>
      <div class="row">
        <div>
          <label for="campaign-name">Name</label>
          <input
            id="campaign-name"
            name="name"
            autocomplete="off"
            required
            maxlength={100}
            data-pointer="/name"
          />
        </div>
        <div>
          <label for="campaign-flow">Flow for answered calls</label>
          <select id="campaign-flow" name="flow_id" data-pointer="/flow_id">
            <option value="">None: the default dialplan target</option>
          </select>
        </div>
      </div>
      <div class="row">
        <div>
          <label for="campaign-caller-id">Caller id (optional)</label>
          <input id="campaign-caller-id" name="caller_id" autocomplete="off" data-pointer="/caller_id" />
        </div>
        <div>
          <label for="campaign-timezone">Time zone</label>
          <input
            id="campaign-timezone"
            name="timezone"
            autocomplete="off"
            required
            data-pointer="/timezone"
            aria-describedby="campaign-timezone-help"
          />
          <p id="campaign-timezone-help" class="small muted">
            An IANA time zone such as America/Chicago: the windows are read in it for contacts without their
            own.
          </p>
        </div>
      </div>
      <fieldset data-pointer="/windows">
        <legend>Calling windows</legend>
        <p class="small muted">
          In each contact’s local time; the end is excluded and comes after the start.
        </p>
        <div id="campaign-windows" />
        <button type="button" id="campaign-window-add">
          Add a window
        </button>
      </fieldset>
      <fieldset data-pointer="/retry">
        <legend>Retries by outcome</legend>
        <p class="small muted">Leave an outcome empty not to retry it; max attempts counts the first.</p>
        <div class="retry-grid">
          {RETRY_OUTCOMES.map((o) => (
            <fieldset data-pointer={`/retry/${o}`}>
              <legend>{o.replace('_', ' ')}</legend>
              <div class="row">
                <div>
                  <label for={`retry-${o}-after`}>Retry after (seconds)</label>
                  <input
                    id={`retry-${o}-after`}
                    type="number"
                    inputmode="numeric"
                    min="0"
                    data-outcome={o}
                    data-rule="after_seconds"
                    data-pointer={`/retry/${o}/after_seconds`}
                  />
                </div>
                <div>
                  <label for={`retry-${o}-max`}>Max attempts</label>
                  <input
                    id={`retry-${o}-max`}
                    type="number"
                    inputmode="numeric"
                    min="1"
                    data-outcome={o}
                    data-rule="max_attempts"
                    data-pointer={`/retry/${o}/max_attempts`}
                  />
                </div>
              </div>
            </fieldset>
          ))}
        </div>
      </fieldset>
      <div class="row">
        <NumberField
          id="campaign-per-day"
          name="max_attempts_per_day"
          label="Max attempts per contact per day"
          min={1}
          max={10}
        />
        <NumberField id="campaign-cps" name="cps" label="Calls per second" min={1} max={10000} />
        <NumberField
          id="campaign-concurrent"
          name="max_concurrent"
          label="Max concurrent calls"
          min={1}
          max={100000}
        />
      </div>
      <p class="small muted">Empty numbers take the API’s defaults.</p>
      <FormEnd errorId="campaign-error" submit="Create campaign" />
    </form>
  );
}

export function CampaignsView() {
  return (
    <View name="campaigns" title="Campaigns">
      <CreateForm />
      <form id="campaigns-filter" class="row" aria-label="Filter campaigns">
        <div>
          <label for="campaigns-state">State</label>
          <select id="campaigns-state" name="state">
            <option value="">any</option>
            {CAMPAIGN_STATES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </div>
        <div>
          <button type="submit">Filter</button>
        </div>
      </form>
      <Table
        id="campaigns-table"
        caption="Campaigns, newest first, with their progress"
        columns={['Campaign', 'State', 'Progress', { label: 'Created', optional: true }]}
      />
      <p id="campaigns-empty" class="muted" hidden>
        No campaigns yet.
      </p>
      <p>
        <button type="button" id="campaigns-more" hidden>
          Load more
        </button>
      </p>
    </View>
  );
}

export function CampaignView() {
  return (
    <View
      name="campaign"
      title="Campaign"
      lead={
        <p>
          <a href="#/campaigns">← All campaigns</a>
        </p>
      }
    >
      <div id="campaign-body">
        <p>
          State:{' '}
          <span id="campaign-state" class="status" role="status" aria-live="polite">
            …
          </span>
        </p>
        <div class="actions" data-can-write>
          <button type="button" id="campaign-start" data-action="start" class="primary" disabled>
            Start
          </button>
          <button type="button" id="campaign-pause" data-action="pause" disabled>
            Pause
          </button>
          <button type="button" id="campaign-resume" data-action="resume" disabled>
            Resume
          </button>
          <button type="button" id="campaign-cancel" data-action="cancel" class="danger" disabled>
            Cancel campaign
          </button>
        </div>
        <h3 id="campaign-progress-title">Progress</h3>
        <progress
          id="campaign-progress"
          max="1"
          value="0"
          aria-labelledby="campaign-progress-title"
          aria-describedby="campaign-progress-text"
        />
        <p id="campaign-progress-text" />
        <dl id="campaign-counters" class="counters" aria-label="Counters" />
        <h3 id="campaign-chart-title">Outcomes per minute, last hour</h3>
        <figure class="chart" aria-labelledby="campaign-chart-title">
          <div id="campaign-chart" />
          <ul id="campaign-legend" class="legend" aria-label="Outcomes in the last hour" />
        </figure>
        <form id="import-form" class="card" aria-labelledby="import-title" data-can-write>
          <h3 id="import-title">Upload contacts</h3>
          <label for="import-file">Contacts (CSV file)</label>
          <input
            id="import-file"
            name="file"
            type="file"
            accept=".csv,text/csv"
            required
            aria-describedby="import-help"
          />
          <p id="import-help" class="small muted">
            A header row naming <code>phone_number</code>, optionally <code>timezone</code>; any other column
            is a variable of the call.
          </p>
          <FormEnd errorId="import-error" submit="Upload contacts" />
          <div id="import-report" hidden>
            <p id="import-summary" role="status" aria-live="polite" />
            <Table id="import-rejected" caption="Rejected rows and why" columns={['Row', 'Reason']} />
          </div>
        </form>
        <h3>Contacts</h3>
        <form id="contacts-filter" class="row" aria-label="Filter contacts">
          <div>
            <label for="contacts-state">State</label>
            <select id="contacts-state" name="state">
              <option value="">any</option>
              {CONTACT_STATES.map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </div>
          <div>
            <label for="contacts-outcome">Final outcome</label>
            <select id="contacts-outcome" name="final_outcome">
              <option value="">any</option>
              {ATTEMPT_OUTCOMES.map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </div>
          <div>
            <button type="submit">Filter</button>
          </div>
        </form>
        <Table
          id="contacts-table"
          caption="Contacts in import order"
          columns={[
            'Row',
            'Number',
            'State',
            'Attempts',
            'Outcome',
            { label: 'Next attempt', optional: true },
          ]}
        />
        <p id="contacts-empty" class="muted" hidden>
          No contacts here.
        </p>
        <div class="actions">
          <button type="button" id="contacts-first" hidden>
            First page
          </button>
          <button type="button" id="contacts-next" hidden>
            Next page
          </button>
        </div>
        <h3>Results</h3>
        <div class="actions">
          <button type="button" id="campaign-export">
            Export results (CSV)
          </button>
        </div>
      </div>
    </View>
  );
}
