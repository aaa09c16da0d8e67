/**
 * The browser half of /console. It is served as `(${consoleClient})(statuses)`, so it must not use anything
 * from outside its own body. It only speaks the public JSON API, with the token in sessionStorage.
 */
export function consoleClient(statuses: {
  /** The final statuses (api/shared/contract). */
  terminal: readonly string[];
  /** How far along each status is: statuses only move to a higher rank. */
  rank: Readonly<Record<string, number>>;
}): void {
  type Json = Record<string, unknown>;
  interface Call {
    call_id: string;
    phone_number: string;
    status: string;
    reason: string | null;
    created_at: string;
    is_active: boolean;
    [k: string]: unknown;
  }
  interface CallEvent {
    id: string;
    sequence: number;
    call_id: string;
    type: string;
    status: string;
    time: string;
    reason: string | null;
    hangup_cause: number | null;
    hangup_cause_txt: string | null;
    dial_status: string | null;
  }
  interface Me {
    id: string;
    username: string;
    role: 'admin' | 'operator' | 'viewer';
  }

  const TOKEN = 'outdial.console.token';
  const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
  const views = ['login-view', 'calls-view', 'call-view', 'users-view'];
  let me: Me | null = null;
  let nextCursor: string | null = null;
  let currentCall: string | null = null;
  /**
   * The call on screen: the live events received for it, and the sequence of the event its badge
   * shows. A fetch answered after a newer live event must not take the badge back.
   */
  let liveEvents: CallEvent[] = [];
  let shownSequence = -1;
  const FINAL = statuses.terminal;
  /**
   * The newest status the stream brought for each call (the last 1,000 calls). Statuses only move
   * forward, so a list answered before that status arrived shows the live one instead of its own.
   */
  const liveStatus = new Map<string, { status: string; reason: string | null }>();
  const rank = (status: string) => statuses.rank[status] ?? -1;
  let stream: AbortController | null = null;
  let lastEventId: string | null = null;

  class HttpError extends Error {
    constructor(
      readonly status: number,
      readonly body: Json,
    ) {
      super(String(body.detail ?? `HTTP ${status}`));
    }
  }

  function token(): string | null {
    return sessionStorage.getItem(TOKEN);
  }

  async function api<T = Json>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
    const headers = new Headers(init.headers);
    const t = token();
    if (t) headers.set('Authorization', `Bearer ${t}`);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set('Content-Type', 'application/json');
      body = JSON.stringify(init.json);
    }
    const res = await fetch(path, { ...init, headers, body: body ?? null });
    const data = (await res.json().catch(() => ({}))) as Json;
    if (res.status === 401 && path !== '/api/v2/token') {
      signOut('Your session ended; please log in again.');
    }
    if (!res.ok) throw new HttpError(res.status, data);
    return data as T;
  }

  function text(el: HTMLElement, value: string) {
    el.textContent = value;
  }

  /** The page (its hash) in use. */
  const here = () => location.hash || '#/calls';
  /** The page the message on screen is about: leaving that page takes the message away. */
  let flashPage = '';

  /** Shows a message about page `page` (the one in use unless given); an empty message hides it. */
  function flash(message: string, page = here()) {
    const el = $('flash');
    text(el, message);
    el.hidden = !message;
    flashPage = page;
  }

  function showError(id: string, error: unknown) {
    const el = $(id);
    if (!error) {
      el.hidden = true;
      text(el, '');
      return;
    }
    text(el, error instanceof Error ? error.message : String(error));
    el.hidden = false;
  }

  function showView(id: string, focus = true) {
    for (const v of views) $(v).hidden = v !== id;
    for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>('[data-nav]'))) {
      if (
        (id === 'calls-view' || id === 'call-view') === (a.dataset.nav === 'calls') &&
        id !== 'users-view'
      ) {
        a.setAttribute('aria-current', 'page');
      } else if (id === 'users-view' && a.dataset.nav === 'users') a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (focus) $(id).querySelector<HTMLElement>('h2')?.focus();
  }

  function statusBadge(status: string): HTMLSpanElement {
    const span = document.createElement('span');
    span.className = `status ${status}`;
    span.textContent = status;
    return span;
  }

  function cell(row: HTMLTableRowElement, content: string | Node, optional = false) {
    const td = row.insertCell();
    if (optional) td.className = 'optional';
    if (typeof content === 'string') td.textContent = content;
    else td.append(content);
    return td;
  }

  const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

  // ---- session -------------------------------------------------------------------------------

  function signOut(message = '', focus = true) {
    sessionStorage.removeItem(TOKEN);
    me = null;
    stream?.abort();
    stream = null;
    $('nav').hidden = true;
    showView('login-view', false);
    flash(message);
    if (focus) $('login-username').focus();
  }

  async function start() {
    // On first load the focus stays at the top of the page, where the skip link is.
    if (!token()) return signOut('', false);
    try {
      me = await api<Me>('/api/v2/me');
    } catch {
      return;
    }
    $('nav').hidden = false;
    text($('whoami'), `${me.username} (${me.role})`);
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-admin-only]')))
      el.hidden = me.role !== 'admin';
    if (me.role === 'viewer') $('originate-form').remove();
    openStream();
    route();
  }

  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    showError('login-error', null);
    const form = new FormData(e.target as HTMLFormElement);
    try {
      const res = await api<{ access_token: string }>('/api/v2/token', {
        method: 'POST',
        body: new URLSearchParams({
          username: String(form.get('username') ?? ''),
          password: String(form.get('password') ?? ''),
        }),
      });
      sessionStorage.setItem(TOKEN, res.access_token);
      ($('login-password') as HTMLInputElement).value = '';
      flash('');
      if (!location.hash || location.hash === '#/') location.hash = '#/calls';
      await start();
    } catch (error) {
      showError(
        'login-error',
        error instanceof HttpError && error.status === 401 ? new Error('Wrong username or password.') : error,
      );
      $('login-password').focus();
    }
  });

  $('logout').addEventListener('click', async () => {
    await api('/api/v2/token/revoke', { method: 'POST' }).catch(() => undefined);
    signOut('You are logged out.');
  });

  // ---- live events ---------------------------------------------------------------------------

  async function openStream() {
    stream?.abort();
    const controller = new AbortController();
    stream = controller;
    let delay = 1000;
    while (stream === controller && token()) {
      try {
        const headers: Record<string, string> = { Authorization: `Bearer ${token()}` };
        if (lastEventId) headers['Last-Event-ID'] = lastEventId;
        const res = await fetch('/api/v2/events', { headers, signal: controller.signal });
        if (res.status === 401) return signOut('Your session ended; please log in again.');
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        delay = 1000;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut = buffer.indexOf('\n\n');
          while (cut >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let id = '';
            let event = '';
            let data = '';
            for (const line of frame.split('\n')) {
              if (line.startsWith('id: ')) id = line.slice(4);
              else if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (event === 'call' && data) {
              if (id) lastEventId = id;
              onCallEvent(JSON.parse(data) as CallEvent);
            } else if (event === 'ready' && data) {
              // Live from here on: reload what is on screen so that nothing before this point is missed.
              const ready = JSON.parse(data) as { after: string; resumed: boolean };
              if (!ready.resumed) {
                lastEventId = ready.after;
                refreshView();
              }
            }
            cut = buffer.indexOf('\n\n');
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        console.warn('live events interrupted', error);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  function refreshView() {
    if (currentCall && !$('call-view').hidden) void loadCall(currentCall, false);
    else if (!$('calls-view').hidden) void loadCalls(true);
  }

  function onCallEvent(ev: CallEvent) {
    liveStatus.delete(ev.call_id);
    liveStatus.set(ev.call_id, { status: ev.status, reason: ev.reason });
    if (liveStatus.size > 1000) liveStatus.delete(liveStatus.keys().next().value as string);
    const row = document.querySelector<HTMLTableRowElement>(`#calls-table tr[data-call-id="${ev.call_id}"]`);
    if (row) {
      row.cells[2]!.replaceChildren(statusBadge(ev.status));
      if (ev.reason) row.cells[3]!.textContent = ev.reason;
    } else if (ev.type === 'created' && !$('calls-view').hidden) {
      void loadCalls(true);
    }
    if (currentCall === ev.call_id) {
      liveEvents.push(ev);
      showStatus(ev.status, ev.sequence);
      appendEvent(ev);
      if (FINAL.includes(ev.status)) void loadCall(ev.call_id, false);
    }
  }

  // ---- calls ---------------------------------------------------------------------------------

  async function loadCalls(reset: boolean) {
    const form = new FormData($('filter-form') as HTMLFormElement);
    const q = new URLSearchParams({ limit: '25' });
    const status = String(form.get('status') ?? '');
    const number = String(form.get('phone_number') ?? '').trim();
    if (status) q.set('status', status);
    if (number) q.set('phone_number', number);
    if (!reset && nextCursor) q.set('cursor', nextCursor);
    try {
      const page = await api<{ items: Call[]; next_cursor: string | null }>(`/api/v2/calls?${q}`);
      const body = ($('calls-table') as HTMLTableElement).tBodies[0]!;
      if (reset) body.replaceChildren();
      for (const call of page.items) {
        const row = body.insertRow();
        row.dataset.callId = call.call_id;
        const link = document.createElement('a');
        link.href = `#/calls/${call.call_id}`;
        link.textContent = call.call_id.slice(0, 8);
        link.setAttribute('aria-label', `Call ${call.call_id.slice(0, 8)} to ${call.phone_number}`);
        cell(row, link);
        cell(row, call.phone_number);
        const live = liveStatus.get(call.call_id);
        const fresher = live !== undefined && rank(live.status) > rank(call.status);
        cell(row, statusBadge(fresher ? live.status : call.status));
        cell(row, (fresher ? live.reason : call.reason) ?? '', true);
        cell(row, when(call.created_at), true);
      }
      nextCursor = page.next_cursor;
      $('calls-more').hidden = !nextCursor;
      $('calls-empty').hidden = body.rows.length > 0;
    } catch (error) {
      flash(`Could not load calls: ${(error as Error).message}`);
    }
  }

  $('filter-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadCalls(true);
  });
  $('calls-more').addEventListener('click', () => void loadCalls(false));

  document.addEventListener('submit', async (e) => {
    const form = e.target as HTMLFormElement;
    if (form.id !== 'originate-form') return;
    e.preventDefault();
    showError('originate-error', null);
    const data = new FormData(form);
    const body: Json = {
      phone_number: String(data.get('phone_number') ?? '').trim(),
      context: String(data.get('context') ?? ''),
    };
    const callerId = String(data.get('caller_id') ?? '').trim();
    const timeout = String(data.get('timeout') ?? '').trim();
    if (callerId) body.caller_id = callerId;
    if (timeout) body.timeout = Number(timeout) * 1000;
    const button = form.querySelector('button')!;
    button.disabled = true;
    try {
      const res = await api<{ call_id: string; success: boolean; error: string | null; status: string }>(
        '/api/v2/calls',
        {
          method: 'POST',
          json: body,
          headers: { 'Idempotency-Key': crypto.randomUUID() },
        },
      );
      // The message is about the call's page, where it goes next.
      flash(
        res.success
          ? `Call placed (${res.status}).`
          : `The PBX refused the call: ${res.error ?? 'unknown reason'}`,
        `#/calls/${res.call_id}`,
      );
      location.hash = `#/calls/${res.call_id}`;
    } catch (error) {
      showError('originate-error', error);
    } finally {
      button.disabled = false;
    }
  });

  function appendEvent(ev: CallEvent) {
    const body = ($('events-table') as HTMLTableElement).tBodies[0]!;
    if (body.querySelector(`tr[data-event-id="${ev.id}"]`)) return;
    const row = body.insertRow();
    row.dataset.eventId = ev.id;
    cell(row, String(ev.sequence));
    cell(row, ev.type);
    cell(row, statusBadge(ev.status));
    cell(row, when(ev.time));
    const details = [
      ev.reason,
      // The dial status tells why a call ended; on an earlier event it is only the last Dial state
      // Asterisk had sent (an answer can come before its Dial ANSWER: RINGING beside "answered").
      ev.type === 'ended' ? ev.dial_status : null,
      ev.hangup_cause !== null ? `cause ${ev.hangup_cause} ${ev.hangup_cause_txt ?? ''}` : null,
    ]
      .filter(Boolean)
      .join(' · ');
    cell(row, details, true);
  }

  /** Shows the status after event `sequence` of the call on screen, unless a newer one is shown. */
  function showStatus(status: string, sequence: number) {
    if (sequence < shownSequence) return;
    shownSequence = sequence;
    const badge = $('call-status');
    badge.className = `status ${status}`;
    text(badge, status);
    $('hangup').hidden = FINAL.includes(status) || me?.role === 'viewer';
  }

  /** Empties the call pane, so that nothing of the call shown before stays while another loads. */
  function clearCall() {
    liveEvents = [];
    shownSequence = -1;
    text($('call-title'), 'Call');
    const badge = $('call-status');
    badge.className = 'status';
    text(badge, '…');
    $('hangup').hidden = true;
    $('call-details').replaceChildren();
    ($('events-table') as HTMLTableElement).tBodies[0]!.replaceChildren();
    ($('webhooks-table') as HTMLTableElement).tBodies[0]!.replaceChildren();
    $('webhooks-empty').hidden = true;
    $('call-body').hidden = false;
  }

  async function loadCall(id: string, focus = true) {
    if (currentCall !== id) clearCall();
    currentCall = id;
    showView('call-view', focus);
    try {
      const [call, log, hooks] = await Promise.all([
        api<Call>(`/api/v2/calls/${id}`),
        api<{ events: CallEvent[] }>(`/api/v2/calls/${id}/events`),
        api<{
          deliveries: {
            status: string;
            state: string;
            attempts: { status_code: number | null; error: string | null }[];
          }[];
        }>(`/api/v2/calls/${id}/webhooks`),
      ]);
      if (currentCall !== id) return;
      text($('call-title'), `Call to ${call.phone_number}`);
      $('call-body').hidden = false;
      // The fetched log, with whatever the stream brought meanwhile; the newest event sets the badge.
      const events = new Map<string, CallEvent>();
      for (const ev of [...log.events, ...liveEvents]) events.set(ev.id, ev);
      const ordered = [...events.values()].sort((a, b) => a.sequence - b.sequence);
      const newest = ordered.at(-1);
      showStatus(newest?.status ?? call.status, newest?.sequence ?? 0);
      const dl = $('call-details');
      dl.replaceChildren();
      const fields: [string, unknown][] = [
        ['Call id', call.call_id],
        ['Reason', call.reason],
        [
          'Hang-up cause',
          call.hangup_cause === null ? null : `${call.hangup_cause} ${call.hangup_cause_txt ?? ''}`,
        ],
        ['Dial status', FINAL.includes(call.status) ? call.dial_status : null],
        ['Channel', call.channel],
        ['Context', `${call.context}, ${call.extension}, ${call.priority}`],
        ['Caller id', call.caller_id],
        ['Created', when(call.created_at)],
        ['Answered', when(call.answered_at as string | null)],
        ['Ended', when(call.ended_at as string | null)],
        ['Duration', call.duration === null ? null : `${call.duration} s`],
      ];
      for (const [k, v] of fields) {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v === null || v === undefined || v === '' ? '—' : String(v);
        dl.append(dt, dd);
      }
      ($('events-table') as HTMLTableElement).tBodies[0]!.replaceChildren();
      for (const ev of ordered) appendEvent(ev);
      const wbody = ($('webhooks-table') as HTMLTableElement).tBodies[0]!;
      wbody.replaceChildren();
      for (const d of hooks.deliveries) {
        const row = wbody.insertRow();
        cell(row, d.status);
        cell(row, d.state);
        cell(row, String(d.attempts.length));
        const last = d.attempts.at(-1);
        cell(row, last ? (last.error ?? `HTTP ${last.status_code}`) : 'not yet sent', true);
      }
      $('webhooks-empty').hidden = hooks.deliveries.length > 0;
    } catch (error) {
      if (currentCall !== id) return;
      if (error instanceof HttpError && error.status === 404) {
        // Unknown, or another user's: the same answer, and nothing to show.
        text($('call-title'), 'No such call');
        $('call-body').hidden = true;
        return flash('No such call.');
      }
      flash(`Could not load the call: ${(error as Error).message}`);
    }
  }

  $('hangup').addEventListener('click', async () => {
    if (!currentCall) return;
    const button = $<HTMLButtonElement>('hangup');
    button.disabled = true;
    try {
      await api(`/api/v2/calls/${currentCall}/hangup`, { method: 'POST' });
      flash('Hang-up requested.');
    } catch (error) {
      flash(`Could not hang up: ${(error as Error).message}`);
    } finally {
      button.disabled = false;
    }
  });

  // ---- users ---------------------------------------------------------------------------------

  /**
   * Asks before an action that takes something away. The dialog names the action on its button;
   * Cancel has the focus first, Escape cancels, and the focus goes back where it was. True when
   * the action was confirmed.
   */
  function confirmAction(question: string, detail: string, action: string): Promise<boolean> {
    const dialog = $<HTMLDialogElement>('confirm');
    const back = document.activeElement as HTMLElement | null;
    text($('confirm-title'), question);
    text($('confirm-text'), detail);
    text($('confirm-ok'), action);
    dialog.returnValue = '';
    dialog.showModal();
    $('confirm-cancel').focus();
    return new Promise((resolve) => {
      dialog.addEventListener(
        'close',
        () => {
          if (back?.isConnected) back.focus();
          resolve(dialog.returnValue === 'ok');
        },
        { once: true },
      );
    });
  }
  $('confirm-ok').addEventListener('click', () => $<HTMLDialogElement>('confirm').close('ok'));
  $('confirm-cancel').addEventListener('click', () => $<HTMLDialogElement>('confirm').close(''));

  const ROLES = ['viewer', 'operator', 'admin'];
  const ROLE_RIGHTS: Record<string, string> = {
    admin: 'An admin may do everything, users included.',
    operator: 'An operator places, hangs up and reads their own calls, and manages no users.',
    viewer: 'A viewer reads calls and can neither place nor hang up any.',
  };

  /** Lists the users; `focus` names a control (`<user id> <action>`) to give the focus to after. */
  async function loadUsers(focus = '') {
    try {
      const page = await api<{ items: { id: string; username: string; role: string; is_active: boolean }[] }>(
        '/api/v2/users?limit=100',
      );
      const body = ($('users-table') as HTMLTableElement).tBodies[0]!;
      body.replaceChildren();
      for (const u of page.items) {
        const row = body.insertRow();
        cell(row, u.username);
        const select = document.createElement('select');
        select.setAttribute('aria-label', `Role of ${u.username}`);
        for (const r of ['admin', 'operator', 'viewer']) {
          const o = document.createElement('option');
          o.value = r;
          o.textContent = r;
          o.selected = r === u.role;
          select.append(o);
        }
        select.addEventListener('change', async () => {
          const role = select.value;
          if (
            ROLES.indexOf(role) < ROLES.indexOf(u.role) &&
            !(await confirmAction(
              `Make ${u.username} ${role}?`,
              `${u.username} is ${u.role} now. ${ROLE_RIGHTS[role]} This takes effect at once.`,
              `Make ${u.username} ${role}`,
            ))
          ) {
            select.value = u.role;
            return;
          }
          try {
            await api(`/api/v2/users/${u.id}`, { method: 'PATCH', json: { role } });
            u.role = role;
            flash(`${u.username} is now ${role}.`);
          } catch (error) {
            flash(`Could not change the role: ${(error as Error).message}`);
            select.value = u.role;
          }
        });
        cell(row, select);
        cell(row, u.is_active ? 'yes' : 'no');
        const actions = document.createElement('div');
        actions.className = 'actions';
        const toggle = document.createElement('button');
        toggle.type = 'button';
        toggle.dataset.control = `${u.id} toggle`;
        toggle.textContent = u.is_active ? `Deactivate ${u.username}` : `Activate ${u.username}`;
        toggle.addEventListener('click', async () => {
          if (
            u.is_active &&
            !(await confirmAction(
              `Deactivate ${u.username}?`,
              `${u.username} can no longer log in, and every token ${u.username} holds stops working at once.`,
              `Deactivate ${u.username}`,
            ))
          )
            return;
          try {
            await api(`/api/v2/users/${u.id}`, { method: 'PATCH', json: { is_active: !u.is_active } });
            flash(`${u.username} ${u.is_active ? 'deactivated' : 'activated'}.`);
            void loadUsers(`${u.id} toggle`);
          } catch (error) {
            flash(`Could not change ${u.username}: ${(error as Error).message}`);
          }
        });
        const reset = document.createElement('button');
        reset.type = 'button';
        reset.textContent = `Reset password of ${u.username}`;
        reset.addEventListener('click', async () => {
          if (
            !(await confirmAction(
              `Reset the password of ${u.username}?`,
              `This signs ${u.username} out everywhere: every token ${u.username} holds stops working. ` +
                'A new password is made and shown here once.',
              `Reset password of ${u.username}`,
            ))
          )
            return;
          try {
            const res = await api<{ generated_password: string }>(`/api/v2/users/${u.id}/password`, {
              method: 'POST',
            });
            flash(`New password for ${u.username}: ${res.generated_password} (shown once).`);
          } catch (error) {
            flash(`Could not reset the password: ${(error as Error).message}`);
          }
        });
        actions.append(toggle, reset);
        cell(row, actions);
      }
      if (focus) document.querySelector<HTMLElement>(`[data-control="${focus}"]`)?.focus();
    } catch (error) {
      flash(`Could not load users: ${(error as Error).message}`);
    }
  }

  $('user-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    showError('user-error', null);
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    try {
      await api('/api/v2/users', {
        method: 'POST',
        json: { username: data.get('username'), password: data.get('password'), role: data.get('role') },
      });
      flash(`Added ${String(data.get('username'))}.`);
      form.reset();
      void loadUsers();
    } catch (error) {
      showError('user-error', error);
    }
  });

  // ---- routing -------------------------------------------------------------------------------

  function route() {
    if (!me) return;
    const hash = here();
    if (hash !== flashPage) flash('');
    const call = /^#\/calls\/([0-9a-f-]{36})$/.exec(hash);
    if (call) return void loadCall(call[1]!);
    currentCall = null;
    if (hash === '#/users' && me.role === 'admin') {
      showView('users-view');
      return void loadUsers();
    }
    showView('calls-view');
    void loadCalls(true);
  }

  window.addEventListener('hashchange', route);
  void start();
}
