import type { Call, CallEvent, ConsoleContext } from './context.ts';

interface Deliveries {
  deliveries: {
    status: string;
    state: string;
    attempts: { status_code: number | null; error: string | null }[];
  }[];
}

/**
 * One call's page: its status badge, details, flow (./flow.client.ts), event log and webhook
 * deliveries, and hanging up.
 * (One function for the whole module: see ./context.ts.)
 */
export function consoleCall(c: ConsoleContext): void {
  /**
   * The call on screen: the live events received for it, and the sequence of the event its badge
   * shows. A fetch answered after a newer live event must not take the badge back.
   */
  let liveEvents: CallEvent[] = [];
  let shownSequence = -1;

  c.onCurrentCallEvent = (ev) => {
    liveEvents.push(ev);
    showStatus(ev.status, ev.sequence);
    appendEvent(ev);
    if (ev.flow) c.onFlowEvent(ev);
    if (c.FINAL.includes(ev.status)) void c.loadCall(ev.call_id, false);
  };

  function appendEvent(ev: CallEvent) {
    const body = c.$<HTMLTableElement>('events-table').tBodies[0]!;
    if (body.querySelector(`tr[data-event-id="${ev.id}"]`)) return;
    const row = body.insertRow();
    row.dataset.eventId = ev.id;
    c.cell(row, String(ev.sequence));
    c.cell(row, ev.type);
    c.cell(row, c.statusBadge(ev.status));
    c.cell(row, c.when(ev.time));
    const details = [
      ev.flow ? c.describeFlowEvent(ev.flow) : null,
      ev.reason,
      // The dial status tells why a call ended; on an earlier event it is only the last Dial state
      // Asterisk had sent (an answer can come before its Dial ANSWER: RINGING beside "answered").
      ev.type === 'ended' ? ev.dial_status : null,
      ev.hangup_cause !== null ? `cause ${ev.hangup_cause} ${ev.hangup_cause_txt ?? ''}` : null,
    ]
      .filter(Boolean)
      .join(' · ');
    c.cell(row, details, true);
  }

  /** Shows the status after event `sequence` of the call on screen, unless a newer one is shown. */
  function showStatus(status: string, sequence: number) {
    if (sequence < shownSequence) return;
    shownSequence = sequence;
    const badge = c.$('call-status');
    badge.className = `status ${status}`;
    c.text(badge, status);
    c.$('hangup').hidden = c.FINAL.includes(status) || c.me?.role === 'viewer';
  }

  /** Empties the call pane, so that nothing of the call shown before stays while another loads. */
  function clearCall() {
    liveEvents = [];
    shownSequence = -1;
    c.text(c.$('call-title'), 'Call');
    const badge = c.$('call-status');
    badge.className = 'status';
    c.text(badge, '…');
    c.$('hangup').hidden = true;
    c.$('call-details').replaceChildren();
    c.$<HTMLTableElement>('events-table').tBodies[0]!.replaceChildren();
    c.$<HTMLTableElement>('webhooks-table').tBodies[0]!.replaceChildren();
    c.$('webhooks-empty').hidden = true;
    c.clearFlow();
    c.$('call-body').hidden = false;
  }

  c.loadCall = async (id, focus = true) => {
    if (c.currentCall !== id) clearCall();
    c.currentCall = id;
    c.showView('call-view', focus);
    try {
      const [call, log, hooks] = await Promise.all([
        c.api<Call>(`/api/v2/calls/${id}`),
        c.api<{ events: CallEvent[] }>(`/api/v2/calls/${id}/events`),
        c.api<Deliveries>(`/api/v2/calls/${id}/webhooks`),
      ]);
      if (c.currentCall !== id) return;
      c.text(c.$('call-title'), `Call to ${call.phone_number}`);
      c.$('call-body').hidden = false;
      // The fetched log, with whatever the stream brought meanwhile; the newest event sets the badge.
      const events = new Map<string, CallEvent>();
      for (const ev of [...log.events, ...liveEvents]) events.set(ev.id, ev);
      const ordered = [...events.values()].sort((a, b) => a.sequence - b.sequence);
      const newest = ordered.at(-1);
      showStatus(newest?.status ?? call.status, newest?.sequence ?? 0);
      showDetails(call);
      c.$<HTMLTableElement>('events-table').tBodies[0]!.replaceChildren();
      for (const ev of ordered) appendEvent(ev);
      c.showFlow(call, ordered);
      showDeliveries(hooks);
    } catch (error) {
      if (c.currentCall !== id) return;
      if (error instanceof c.HttpError && error.status === 404) {
        // Unknown, or another user's: the same answer, and nothing to show.
        c.text(c.$('call-title'), 'No such call');
        c.$('call-body').hidden = true;
        return c.flash('No such call.');
      }
      c.flash(`Could not load the call: ${(error as Error).message}`);
    }
  };

  function showDetails(call: Call) {
    const dl = c.$('call-details');
    dl.replaceChildren();
    const fields: [string, unknown][] = [
      ['Call id', call.call_id],
      ['Reason', call.reason],
      [
        'Hang-up cause',
        call.hangup_cause === null ? null : `${call.hangup_cause} ${call.hangup_cause_txt ?? ''}`,
      ],
      ['Dial status', c.FINAL.includes(call.status) ? call.dial_status : null],
      ['Channel', call.channel],
      ['Context', `${call.context}, ${call.extension}, ${call.priority}`],
      ['Caller id', call.caller_id],
      ['Created', c.when(call.created_at)],
      ['Answered', c.when(call.answered_at as string | null)],
      ['Ended', c.when(call.ended_at as string | null)],
      ['Duration', call.duration === null ? null : `${call.duration} s`],
    ];
    for (const [k, v] of fields) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v === null || v === undefined || v === '' ? '—' : String(v);
      dl.append(dt, dd);
    }
  }

  function showDeliveries(hooks: Deliveries) {
    const wbody = c.$<HTMLTableElement>('webhooks-table').tBodies[0]!;
    wbody.replaceChildren();
    for (const d of hooks.deliveries) {
      const row = wbody.insertRow();
      c.cell(row, d.status);
      c.cell(row, d.state);
      c.cell(row, String(d.attempts.length));
      const last = d.attempts.at(-1);
      c.cell(row, last ? (last.error ?? `HTTP ${last.status_code}`) : 'not yet sent', true);
    }
    c.$('webhooks-empty').hidden = hooks.deliveries.length > 0;
  }

  c.$('hangup').addEventListener('click', async () => {
    if (!c.currentCall) return;
    const button = c.$<HTMLButtonElement>('hangup');
    button.disabled = true;
    try {
      await c.api(`/api/v2/calls/${c.currentCall}/hangup`, { method: 'POST' });
      c.flash('Hang-up requested.');
    } catch (error) {
      c.flash(`Could not hang up: ${(error as Error).message}`);
    } finally {
      button.disabled = false;
    }
  });
}
