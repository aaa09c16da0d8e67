import type { Campaign, CampaignEvent, ConsoleContext, Json } from './context.ts';

interface FieldError {
  path: string;
  pointer?: string;
  message: string;
}

/**
 * The campaigns page: the list with each campaign's state and progress (moved by the live stream),
 * and the form that creates one, with its calling windows made and removed here and each refused
 * field's reason shown beside the field.
 * (One function for the whole module: see ./context.ts.)
 */
export function consoleCampaigns(c: ConsoleContext): void {
  const DAY_NAMES: Record<string, string> = {
    mon: 'Mon',
    tue: 'Tue',
    wed: 'Wed',
    thu: 'Thu',
    fri: 'Fri',
    sat: 'Sat',
    sun: 'Sun',
  };
  let nextCursor: string | null = null;
  let windowSeq = 0;

  c.progressOf = (counters) => {
    const total = counters.total ?? 0;
    const finished = (counters.done ?? 0) + (counters.dnc_skipped ?? 0) + (counters.canceled ?? 0);
    return { finished, total };
  };

  c.progressBar = (counters, label) => {
    const { finished, total } = c.progressOf(counters);
    const bar = document.createElement('progress');
    bar.max = Math.max(total, 1);
    bar.value = finished;
    bar.setAttribute('aria-label', label);
    return bar;
  };

  c.loadCampaigns = async (reset) => {
    const q = new URLSearchParams({ limit: '25' });
    const state = c.$<HTMLSelectElement>('campaigns-state').value;
    if (state) q.set('state', state);
    if (!reset && nextCursor) q.set('cursor', nextCursor);
    try {
      const page = await c.api<{ items: Campaign[]; next_cursor: string | null }>(`/api/v2/campaigns?${q}`);
      const body = c.$<HTMLTableElement>('campaigns-table').tBodies[0]!;
      if (reset) body.replaceChildren();
      for (const campaign of page.items) addRow(body, campaign);
      nextCursor = page.next_cursor;
      c.$('campaigns-more').hidden = !nextCursor;
      c.$('campaigns-empty').hidden = body.rows.length > 0;
    } catch (error) {
      c.flash(`Could not load campaigns: ${(error as Error).message}`);
    }
  };

  function addRow(body: HTMLTableSectionElement, campaign: Campaign) {
    const row = body.insertRow();
    row.dataset.campaignId = campaign.campaign_id;
    const link = document.createElement('a');
    link.href = `#/campaigns/${campaign.campaign_id}`;
    link.textContent = campaign.name;
    c.cell(row, link);
    c.cell(row, c.statusBadge(campaign.state));
    c.cell(row, '');
    showRowProgress(row, campaign.name, campaign.counters);
    c.cell(row, c.when(campaign.created_at), true);
  }

  function showRowProgress(row: HTMLTableRowElement, name: string, counters: Record<string, number>) {
    const { finished, total } = c.progressOf(counters);
    const text = document.createElement('span');
    text.className = 'small';
    text.textContent = `${finished} of ${total} contacts finished`;
    row.cells[2]!.replaceChildren(c.progressBar(counters, `Progress of ${name}`), text);
  }

  c.onCampaignListEvent = (ev: CampaignEvent) => {
    const row = document.querySelector<HTMLTableRowElement>(
      `#campaigns-table tr[data-campaign-id="${ev.campaign_id}"]`,
    );
    if (!row) return;
    if (ev.state) row.cells[1]!.replaceChildren(c.statusBadge(ev.state));
    if (ev.counters) showRowProgress(row, row.cells[0]!.textContent ?? '', ev.counters);
  };

  /** The flows the form offers: the user's saved flows (their latest versions). */
  c.loadCampaignFlows = async () => {
    const select = c.$<HTMLSelectElement>('campaign-flow');
    try {
      const page = await c.api<{ items: { flow_id: string; name: string; latest_version: number }[] }>(
        '/api/v2/flows?limit=100',
      );
      const chosen = select.value;
      for (const o of Array.from(select.options).slice(1)) o.remove();
      for (const f of page.items) {
        const o = document.createElement('option');
        o.value = f.flow_id;
        o.textContent = `${f.name} (version ${f.latest_version})`;
        o.selected = f.flow_id === chosen;
        select.append(o);
      }
    } catch (error) {
      c.flash(`Could not list the flows: ${(error as Error).message}`);
    }
  };

  /** Adds a calling window to the form: its days, start and end, and a button that removes it. */
  function addWindow(days: string[], start: string, end: string) {
    const list = c.$('campaign-windows');
    const n = ++windowSeq;
    const box = document.createElement('fieldset');
    box.className = 'window';
    const legend = document.createElement('legend');
    box.append(legend);
    const dayBox = document.createElement('fieldset');
    dayBox.className = 'days-box';
    const dayLegend = document.createElement('legend');
    dayLegend.textContent = 'Days';
    const dayRow = document.createElement('div');
    dayRow.className = 'days';
    for (const d of c.WEEKDAYS) {
      const label = document.createElement('label');
      label.className = 'check';
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.value = d;
      input.checked = days.includes(d);
      label.append(input, DAY_NAMES[d] ?? d);
      dayRow.append(label);
    }
    dayBox.append(dayLegend, dayRow);
    const times = document.createElement('div');
    times.className = 'row';
    for (const [part, value] of [
      ['start', start],
      ['end', end],
    ] as const) {
      const wrap = document.createElement('div');
      const label = document.createElement('label');
      label.htmlFor = `window-${n}-${part}`;
      label.textContent = part === 'start' ? 'From' : 'Until';
      const input = document.createElement('input');
      input.type = 'time';
      input.id = `window-${n}-${part}`;
      input.value = value;
      input.required = true;
      input.dataset.part = part;
      wrap.append(label, input);
      times.append(wrap);
    }
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'window-remove';
    remove.addEventListener('click', () => {
      const next = box.nextElementSibling ?? box.previousElementSibling;
      box.remove();
      numberWindows();
      (next?.querySelector('input') ?? c.$('campaign-window-add')).focus();
    });
    box.append(dayBox, times, remove);
    list.append(box);
    numberWindows();
    return box;
  }

  /** Names the windows in order (their data-pointer too, as the API counts them), one at least. */
  function numberWindows() {
    const boxes = Array.from(
      c.$('campaign-windows').querySelectorAll<HTMLFieldSetElement>('fieldset.window'),
    );
    boxes.forEach((box, i) => {
      box.querySelector('legend')!.textContent = `Window ${i + 1}`;
      box.dataset.pointer = `/windows/${i}`;
      box.querySelector<HTMLElement>('fieldset.days-box')!.dataset.pointer = `/windows/${i}/days`;
      for (const input of Array.from(box.querySelectorAll<HTMLInputElement>('input[type="time"]')))
        input.dataset.pointer = `/windows/${i}/${input.dataset.part}`;
      const remove = box.querySelector<HTMLButtonElement>('button.window-remove')!;
      remove.textContent = `Remove window ${i + 1}`;
      remove.hidden = boxes.length === 1;
    });
  }

  function resetForm() {
    const form = c.$<HTMLFormElement>('campaign-form');
    form.reset();
    c.$('campaign-windows').replaceChildren();
    addWindow(['mon', 'tue', 'wed', 'thu', 'fri'], '09:00', '20:00');
    c.$<HTMLInputElement>('campaign-timezone').value =
      Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  }

  const untilOf = (value: string) => (value === '00:00' ? '24:00' : value);

  /** The form as the API's CreateCampaignRequest; empty optional fields are left out. */
  function formBody(form: HTMLFormElement): Json {
    const data = new FormData(form);
    const text = (name: string) => String(data.get(name) ?? '').trim();
    const num = (v: string) => (v.trim() === '' ? undefined : Number(v));
    const body: Json = { name: text('name'), timezone: text('timezone') };
    if (text('flow_id')) body.flow_id = text('flow_id');
    if (text('caller_id')) body.caller_id = text('caller_id');
    body.windows = Array.from(form.querySelectorAll('fieldset.window')).map((box) => ({
      days: Array.from(box.querySelectorAll<HTMLInputElement>('input[type="checkbox"]:checked')).map(
        (i) => i.value,
      ),
      start: box.querySelector<HTMLInputElement>('input[data-part="start"]')!.value,
      // Until 00:00 is until midnight, the end of the day, which the API writes 24:00.
      end: untilOf(box.querySelector<HTMLInputElement>('input[data-part="end"]')!.value),
    }));
    const retry: Record<string, Record<string, number | undefined>> = {};
    for (const input of Array.from(form.querySelectorAll<HTMLInputElement>('input[data-outcome]'))) {
      const value = num(input.value);
      if (value === undefined) continue;
      retry[input.dataset.outcome!] ??= {};
      retry[input.dataset.outcome!]![input.dataset.rule!] = value;
    }
    if (Object.keys(retry).length > 0) body.retry = retry;
    for (const name of ['max_attempts_per_day', 'cps', 'max_concurrent']) {
      const value = num(text(name));
      if (value !== undefined) body[name] = value;
    }
    return body;
  }

  /** Takes away the refusals shown beside a form's fields. */
  c.clearFieldErrors = (form) => {
    for (const note of Array.from(form.querySelectorAll('.field-note'))) note.remove();
    for (const el of Array.from(form.querySelectorAll('[aria-invalid]'))) {
      el.removeAttribute('aria-invalid');
      const described = (el.getAttribute('aria-describedby') ?? '')
        .split(' ')
        .filter((id) => id && !id.startsWith('note-'));
      if (described.length) el.setAttribute('aria-describedby', described.join(' '));
      else el.removeAttribute('aria-describedby');
    }
  };

  /**
   * Shows each refused field's reason beside it: the element whose data-pointer is the longest
   * start of the error's JSON Pointer gets the note, is marked invalid and described by it. The
   * first such field takes the focus.
   */
  c.showFieldErrors = (form, error) => {
    const fields = error instanceof c.HttpError ? error.body.errors : undefined;
    if (!Array.isArray(fields)) return;
    const targets = Array.from(form.querySelectorAll<HTMLElement>('[data-pointer]'));
    let first: HTMLElement | null = null;
    (fields as FieldError[]).forEach((f, i) => {
      const pointer = f.pointer ?? `/${f.path.replace(/^body\./, '').replaceAll('.', '/')}`;
      const target = targets
        .filter((t) => pointer === t.dataset.pointer || pointer.startsWith(`${t.dataset.pointer}/`))
        .sort((a, b) => b.dataset.pointer!.length - a.dataset.pointer!.length)[0];
      if (!target) return;
      const note = document.createElement('span');
      note.className = 'field-note';
      note.id = `note-${form.id}-${i}`;
      const rest = pointer.slice(target.dataset.pointer!.length).replace(/^\//, '').replaceAll('/', ' › ');
      note.textContent = rest ? `${rest}: ${f.message}` : f.message;
      if (target instanceof HTMLFieldSetElement) target.append(note);
      else target.after(note);
      target.setAttribute('aria-invalid', 'true');
      const described = target.getAttribute('aria-describedby');
      target.setAttribute('aria-describedby', described ? `${described} ${note.id}` : note.id);
      first ??= target instanceof HTMLFieldSetElement ? target.querySelector('input, select') : target;
    });
    (first as HTMLElement | null)?.focus();
  };

  c.$('campaign-window-add').addEventListener('click', () => {
    const box = addWindow(['mon', 'tue', 'wed', 'thu', 'fri'], '09:00', '17:00');
    box.querySelector('input')!.focus();
  });

  c.$('campaign-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    c.showError('campaign-error', null);
    c.clearFieldErrors(form);
    const button = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
    button.disabled = true;
    try {
      const made = await c.api<Campaign>('/api/v2/campaigns', { method: 'POST', json: formBody(form) });
      resetForm();
      c.flash(
        `Campaign “${made.name}” created (draft): upload its contacts, then start it.`,
        `#/campaigns/${made.campaign_id}`,
      );
      location.hash = `#/campaigns/${made.campaign_id}`;
    } catch (error) {
      c.showError('campaign-error', error);
      c.showFieldErrors(form, error);
    } finally {
      button.disabled = false;
    }
  });

  c.$('campaigns-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    void c.loadCampaigns(true);
  });
  c.$('campaigns-more').addEventListener('click', () => void c.loadCampaigns(false));

  resetForm();
}
