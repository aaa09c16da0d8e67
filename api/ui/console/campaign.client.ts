import type { Campaign, CampaignEvent, CampaignTimeline, ConsoleContext } from './context.ts';

interface Contact {
  phone_number: string;
  state: string;
  attempts: number;
  last_outcome: string | null;
  final_outcome: string | null;
  next_attempt_at: string | null;
  source_row: number | null;
}

interface ImportReport {
  accepted: number;
  merged: number;
  rejected: { row: number; reason: string }[];
  rejected_count: number;
}

/**
 * One campaign's page: its state and the actions it allows, live counters and progress (polled about
 * every second while the page is visible, and moved by `campaign` frames of the live stream when the
 * API sends them), a chart of outcomes per minute (campaign-chart.client.ts), the contacts upload with its report,
 * the contacts with filters and pages, and the results export fetched with the token.
 * (One function for the whole module: see ./context.ts.)
 */
export function consoleCampaign(c: ConsoleContext): void {
  const POLL_MS = 1000;
  const FINAL = ['completed', 'canceled'];
  const COUNTER_WORDS: [string, string][] = [
    ['total', 'Contacts'],
    ['pending', 'Pending'],
    ['in_progress', 'In progress'],
    ['done', 'Done'],
    ['dnc_skipped', 'Do-not-call'],
    ['canceled', 'Canceled'],
    ['attempts', 'Attempts'],
    ['outside_window', 'Outside window'],
  ];
  /** The campaign on screen, as last shown; null on other pages. */
  let shown: {
    id: string;
    name: string;
    state: string;
    counters: Record<string, number>;
    mark: number;
  } | null = null;
  /** Bumped whenever another campaign shows: answers for the one before land nowhere. */
  let generation = 0;
  let pollTimer: ReturnType<typeof setTimeout> | null = null;
  let chart = { outcomes: -1, busy: false, again: false };
  /** The cursor of the contacts page after the one shown. */
  let nextContactCursor: string | null = null;

  /** How far along counters are: a newer reading never has less, so an older one is not shown over it. */
  const markOf = (counters: Record<string, number>) =>
    (counters.attempts ?? 0) + c.progressOf(counters).finished * 2 + (counters.total ?? 0) * 4;

  c.loadCampaign = async (id, focus = true) => {
    if (shown?.id !== id) clearCampaign();
    c.currentCampaign = id;
    const mine = generation;
    c.showView('campaign-view', focus);
    try {
      const campaign = await c.api<Campaign>(`/api/v2/campaigns/${id}`);
      if (mine !== generation) return;
      shown = { id, name: campaign.name, state: '', counters: {}, mark: -1 };
      c.text(c.$('campaign-title'), `Campaign “${campaign.name}”`);
      c.$('campaign-body').hidden = false;
      showCampaign(campaign.state, campaign.counters, true);
      void loadContacts(null);
      schedulePoll();
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof c.HttpError && error.status === 404) {
        c.text(c.$('campaign-title'), 'No such campaign');
        c.$('campaign-body').hidden = true;
        return c.flash('No such campaign.');
      }
      c.flash(`Could not load the campaign: ${(error as Error).message}`);
    }
  };

  c.leaveCampaign = () => {
    if (c.currentCampaign) clearCampaign();
    c.currentCampaign = null;
  };

  function clearCampaign() {
    generation++;
    shown = null;
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
    chart = { outcomes: -1, busy: false, again: false };
    nextContactCursor = null;
    c.text(c.$('campaign-title'), 'Campaign');
    const badge = c.$('campaign-state');
    badge.className = 'status';
    c.text(badge, '…');
    c.$('campaign-counters').replaceChildren();
    c.$('campaign-chart').replaceChildren();
    c.$('campaign-legend').replaceChildren();
    c.$<HTMLProgressElement>('campaign-progress').value = 0;
    c.text(c.$('campaign-progress-text'), '');
    // A viewer's page has no upload form.
    if (document.getElementById('import-form')) {
      c.$('import-report').hidden = true;
      c.showError('import-error', null);
    }
    c.$<HTMLTableElement>('contacts-table').tBodies[0]!.replaceChildren();
    c.$<HTMLFormElement>('contacts-filter').reset();
  }

  /** Shows a state and counters, unless what is shown is further along (`force`: a fresh page). */
  function showCampaign(
    state: string | undefined,
    counters: Record<string, number> | undefined,
    force = false,
  ) {
    if (!shown) return;
    if (counters) {
      const mark = markOf(counters);
      if (!force && mark < shown.mark) return;
      shown.mark = mark;
      shown.counters = counters;
      showCounters(counters);
    }
    if (state && state !== shown.state) {
      shown.state = state;
      const badge = c.$('campaign-state');
      badge.className = `status ${state}`;
      c.text(badge, state);
      for (const button of Array.from(
        document.querySelectorAll<HTMLButtonElement>('#campaign-body [data-action]'),
      ))
        button.disabled = !(c.CAMPAIGN_ACTIONS[button.dataset.action!] ?? []).includes(state);
    }
  }

  function showCounters(counters: Record<string, number>) {
    const { finished, total } = c.progressOf(counters);
    const bar = c.$<HTMLProgressElement>('campaign-progress');
    bar.max = Math.max(total, 1);
    bar.value = finished;
    const percent = total ? Math.floor((finished / total) * 100) : 0;
    c.text(c.$('campaign-progress-text'), `${finished} of ${total} contacts finished (${percent}%).`);
    const dl = c.$('campaign-counters');
    dl.replaceChildren();
    const words: [string, string][] = [
      ...COUNTER_WORDS,
      ...c.OUTCOMES.map((o): [string, string] => [`outcome_${o}`, `Ended ${o.replace('_', ' ')}`]),
    ];
    for (const [name, label] of words) {
      const item = document.createElement('div');
      item.dataset.counter = name;
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      dd.textContent = String(counters[name] ?? 0);
      item.append(dt, dd);
      dl.append(item);
    }
    const outcomes = c.OUTCOMES.reduce((n, o) => n + (counters[`outcome_${o}`] ?? 0), 0);
    if (outcomes !== chart.outcomes) {
      chart.outcomes = outcomes;
      void loadChart();
    }
  }

  /** Polls the campaign about every second while the page is visible and the campaign may move. */
  function schedulePoll() {
    if (pollTimer) clearTimeout(pollTimer);
    const mine = generation;
    pollTimer = setTimeout(async () => {
      pollTimer = null;
      if (mine !== generation || !shown) return;
      if (document.visibilityState !== 'visible') return;
      try {
        const campaign = await c.api<Campaign>(`/api/v2/campaigns/${shown.id}`);
        if (mine !== generation) return;
        showCampaign(campaign.state, campaign.counters);
      } catch (error) {
        if (mine === generation) console.warn('campaign poll failed', error);
      }
      if (mine === generation && shown && !(FINAL.includes(shown.state) && !shown.counters.in_progress))
        schedulePoll();
    }, POLL_MS);
  }

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && shown && !pollTimer) schedulePoll();
  });

  c.onCampaignEvent = (ev: CampaignEvent) => {
    c.onCampaignListEvent(ev);
    if (shown && ev.campaign_id === shown.id) {
      showCampaign(ev.state, ev.counters);
      if (!pollTimer && !FINAL.includes(shown.state)) schedulePoll();
    }
  };

  /** Fetches and draws the chart; a change while a fetch runs draws again after it. */
  async function loadChart() {
    if (!shown) return;
    if (chart.busy) {
      chart.again = true;
      return;
    }
    const mine = generation;
    chart.busy = true;
    try {
      const timeline = await c.api<CampaignTimeline>(`/api/v2/campaigns/${shown.id}/timeline?minutes=60`);
      if (mine === generation) c.drawCampaignChart(timeline);
    } catch (error) {
      if (mine === generation) console.warn('campaign chart failed', error);
    } finally {
      if (mine === generation) {
        chart.busy = false;
        if (chart.again) {
          chart.again = false;
          void loadChart();
        }
      }
    }
  }

  for (const button of Array.from(
    document.querySelectorAll<HTMLButtonElement>('#campaign-body [data-action]'),
  )) {
    button.addEventListener('click', async () => {
      if (!shown) return;
      const action = button.dataset.action!;
      const id = shown.id;
      if (
        action === 'cancel' &&
        !(await c.confirmAction(
          `Cancel “${shown.name}”?`,
          'Its pending contacts end canceled and it can never run again; calls already ringing finish.',
          'Cancel the campaign',
        ))
      )
        return;
      button.disabled = true;
      try {
        const campaign = await c.api<Campaign>(`/api/v2/campaigns/${id}/${action}`, { method: 'POST' });
        if (shown?.id !== id) return;
        // The API's answer to the action is the state now, whatever a poll or frame showed before.
        showCampaign(campaign.state, campaign.counters, true);
        c.flash(`The campaign is ${campaign.state}.`);
        schedulePoll();
        // The button pressed is disabled now: the focus goes to the one that follows from it, or
        // to the page's heading once nothing more can be done.
        const next: Record<string, string> = {
          start: 'campaign-pause',
          pause: 'campaign-resume',
          resume: 'campaign-pause',
          cancel: 'campaign-title',
        };
        c.$(next[action] ?? 'campaign-title').focus();
      } catch (error) {
        c.flash(`Could not ${action} the campaign: ${(error as Error).message}`);
        if (shown?.id === id) {
          const state = shown.state;
          shown.state = '';
          showCampaign(state, undefined);
        }
      }
    });
  }

  c.$('import-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!shown) return;
    const id = shown.id;
    c.showError('import-error', null);
    const input = c.$<HTMLInputElement>('import-file');
    const file = input.files?.[0];
    if (!file) {
      input.setAttribute('aria-invalid', 'true');
      c.showError('import-error', new Error('Choose a CSV file first.'));
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    const button = c
      .$<HTMLFormElement>('import-form')
      .querySelector<HTMLButtonElement>('button[type="submit"]')!;
    button.disabled = true;
    try {
      const report = await c.api<ImportReport>(`/api/v2/campaigns/${id}/contacts`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/csv' },
        body: file,
      });
      if (shown?.id !== id) return;
      showReport(report);
      c.$<HTMLFormElement>('import-form').reset();
      void loadContacts(null);
      const campaign = await c.api<Campaign>(`/api/v2/campaigns/${id}`);
      if (shown?.id === id) showCampaign(campaign.state, campaign.counters);
    } catch (error) {
      if (shown?.id === id) c.showError('import-error', error);
    } finally {
      button.disabled = false;
    }
  });

  function showReport(report: ImportReport) {
    const parts = [`${report.accepted} ${report.accepted === 1 ? 'contact' : 'contacts'} accepted`];
    if (report.merged) parts.push(`${report.merged} merged with numbers already in the campaign`);
    parts.push(`${report.rejected_count} ${report.rejected_count === 1 ? 'row' : 'rows'} rejected`);
    let summary = `${parts.join(', ')}.`;
    if (report.rejected_count > report.rejected.length)
      summary += ` The first ${report.rejected.length} rejected rows are listed.`;
    c.text(c.$('import-summary'), summary);
    const body = c.$<HTMLTableElement>('import-rejected').tBodies[0]!;
    body.replaceChildren();
    for (const r of report.rejected) {
      const row = body.insertRow();
      c.cell(row, String(r.row));
      c.cell(row, r.reason);
    }
    c.$('import-rejected').parentElement!.hidden = report.rejected.length === 0;
    c.$('import-report').hidden = false;
  }

  /** Shows the page of contacts after `cursor` (null: the first), with the filters chosen. */
  async function loadContacts(cursor: string | null) {
    if (!shown) return;
    const id = shown.id;
    const mine = generation;
    const data = new FormData(c.$<HTMLFormElement>('contacts-filter'));
    const q = new URLSearchParams({ limit: '25' });
    for (const name of ['state', 'final_outcome']) {
      const v = String(data.get(name) ?? '');
      if (v) q.set(name, v);
    }
    if (cursor) q.set('cursor', cursor);
    try {
      const page = await c.api<{ items: Contact[]; next_cursor: string | null }>(
        `/api/v2/campaigns/${id}/contacts?${q}`,
      );
      if (mine !== generation) return;
      const body = c.$<HTMLTableElement>('contacts-table').tBodies[0]!;
      body.replaceChildren();
      for (const contact of page.items) {
        const row = body.insertRow();
        c.cell(row, contact.source_row === null ? '—' : String(contact.source_row));
        c.cell(row, contact.phone_number);
        c.cell(row, c.statusBadge(contact.state));
        c.cell(row, String(contact.attempts));
        c.cell(row, contact.final_outcome ?? contact.last_outcome ?? '—');
        c.cell(row, c.when(contact.next_attempt_at), true);
      }
      nextContactCursor = page.next_cursor;
      c.$('contacts-empty').hidden = page.items.length > 0;
      c.$('contacts-next').hidden = !page.next_cursor;
      c.$('contacts-first').hidden = cursor === null;
    } catch (error) {
      if (mine === generation) c.flash(`Could not load the contacts: ${(error as Error).message}`);
    }
  }

  c.$('contacts-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadContacts(null);
  });
  c.$('contacts-next').addEventListener('click', async () => {
    if (!nextContactCursor) return;
    await loadContacts(nextContactCursor);
    c.$('contacts-table').focus();
  });
  c.$('contacts-first').addEventListener('click', () => void loadContacts(null));

  /** The results as CSV, fetched with the token and saved from a blob: URL. */
  c.$('campaign-export').addEventListener('click', async () => {
    if (!shown) return;
    const { id, name } = shown;
    const button = c.$<HTMLButtonElement>('campaign-export');
    button.disabled = true;
    try {
      const res = await fetch(`/api/v2/campaigns/${id}/results`, {
        headers: { Authorization: `Bearer ${c.token()}`, Accept: 'text/csv' },
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { detail?: string };
        throw new Error(body.detail ?? `HTTP ${res.status}`);
      }
      const url = URL.createObjectURL(await res.blob());
      const link = document.createElement('a');
      link.href = url;
      link.download = `${name.replace(/[^\w.-]+/g, '-') || 'campaign'}-results.csv`;
      link.hidden = true;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      c.flash('The results are downloaded (CSV).');
    } catch (error) {
      c.flash(`Could not export the results: ${(error as Error).message}`);
    } finally {
      button.disabled = false;
    }
  });
}
