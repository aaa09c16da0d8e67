import type { Call, CallEvent, ConsoleContext, Json } from './context.ts';

/**
 * The calls page: the list with its filter and its next pages, and the form that places a call.
 * (One function for the whole module: see ./context.ts.)
 */
export function consoleCalls(c: ConsoleContext): void {
  let nextCursor: string | null = null;

  c.loadCalls = async (reset) => {
    const form = new FormData(c.$<HTMLFormElement>('filter-form'));
    const q = new URLSearchParams({ limit: '25' });
    const status = String(form.get('status') ?? '');
    const number = String(form.get('phone_number') ?? '').trim();
    if (status) q.set('status', status);
    if (number) q.set('phone_number', number);
    if (!reset && nextCursor) q.set('cursor', nextCursor);
    try {
      const page = await c.api<{ items: Call[]; next_cursor: string | null }>(`/api/v2/calls?${q}`);
      const body = c.$<HTMLTableElement>('calls-table').tBodies[0]!;
      if (reset) body.replaceChildren();
      for (const call of page.items) addRow(body, call);
      nextCursor = page.next_cursor;
      c.$('calls-more').hidden = !nextCursor;
      c.$('calls-empty').hidden = body.rows.length > 0;
    } catch (error) {
      c.flash(`Could not load calls: ${(error as Error).message}`);
    }
  };

  /** A call's row, with the live status instead of the listed one when the stream brought a newer. */
  function addRow(body: HTMLTableSectionElement, call: Call) {
    const row = body.insertRow();
    row.dataset.callId = call.call_id;
    const link = document.createElement('a');
    link.href = `#/calls/${call.call_id}`;
    link.textContent = call.call_id.slice(0, 8);
    link.setAttribute('aria-label', `Call ${call.call_id.slice(0, 8)} to ${call.phone_number}`);
    c.cell(row, link);
    c.cell(row, call.phone_number);
    const live = c.liveStatus.get(call.call_id);
    const fresher = live !== undefined && c.rank(live.status) > c.rank(call.status);
    c.cell(row, c.statusBadge(fresher ? live.status : call.status));
    c.cell(row, (fresher ? live.reason : call.reason) ?? '', true);
    c.cell(row, c.when(call.created_at), true);
  }

  c.onListEvent = (ev: CallEvent) => {
    const row = document.querySelector<HTMLTableRowElement>(`#calls-table tr[data-call-id="${ev.call_id}"]`);
    if (row) {
      row.cells[2]!.replaceChildren(c.statusBadge(ev.status));
      if (ev.reason) row.cells[3]!.textContent = ev.reason;
    } else if (ev.type === 'created' && !c.$('calls-view').hidden) {
      void c.loadCalls(true);
    }
  };

  c.$('filter-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void c.loadCalls(true);
  });
  c.$('calls-more').addEventListener('click', () => void c.loadCalls(false));

  document.addEventListener('submit', async (e) => {
    const form = e.target as HTMLFormElement;
    if (form.id !== 'originate-form') return;
    e.preventDefault();
    c.showError('originate-error', null);
    const data = new FormData(form);
    const body: Json = {
      phone_number: String(data.get('phone_number') ?? '').trim(),
      context: String(data.get('context') ?? ''),
    };
    const callerId = String(data.get('caller_id') ?? '').trim();
    const timeout = String(data.get('timeout') ?? '').trim();
    const sidecar = String(data.get('sidecar_id') ?? '');
    if (callerId) body.caller_id = callerId;
    if (sidecar) body.sidecar_id = sidecar;
    if (timeout) body.timeout = Number(timeout) * 1000;
    const flowField = c.$<HTMLTextAreaElement>('originate-flow');
    flowField.removeAttribute('aria-invalid');
    const flow = String(data.get('flow') ?? '').trim();
    if (flow) {
      try {
        body.flow = JSON.parse(flow);
      } catch (error) {
        flowField.setAttribute('aria-invalid', 'true');
        c.showError('originate-error', new Error(`The flow is not JSON: ${(error as Error).message}`));
        flowField.focus();
        return;
      }
    }
    const button = form.querySelector('button')!;
    button.disabled = true;
    try {
      const res = await c.api<{ call_id: string; success: boolean; error: string | null; status: string }>(
        '/api/v2/calls',
        {
          method: 'POST',
          json: body,
          headers: { 'Idempotency-Key': crypto.randomUUID() },
        },
      );
      // The message is about the call's page, where it goes next.
      c.flash(
        res.success
          ? `Call placed (${res.status}).`
          : `The PBX refused the call: ${res.error ?? 'unknown reason'}`,
        `#/calls/${res.call_id}`,
      );
      location.hash = `#/calls/${res.call_id}`;
    } catch (error) {
      c.showError('originate-error', error);
      const fields = error instanceof c.HttpError ? error.body.errors : undefined;
      if (Array.isArray(fields) && fields.some((f: { pointer?: string }) => f.pointer?.startsWith('/flow')))
        flowField.setAttribute('aria-invalid', 'true');
    } finally {
      button.disabled = false;
    }
  });
}
