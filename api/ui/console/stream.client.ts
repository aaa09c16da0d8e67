import type { CallEvent, CampaignEvent, ConsoleContext } from './context.ts';

/**
 * The live stream (/api/v2/events, server-sent events read with fetch to send the token): it
 * reconnects with back-off, resumes after the last event it handled, and hands each call event to
 * the list and to the call on screen.
 */
export function consoleStream(c: ConsoleContext): void {
  let lastEventId: string | null = null;

  c.openStream = async () => {
    c.stream?.abort();
    const controller = new AbortController();
    c.stream = controller;
    let delay = 1000;
    // Whether the last answer was a 401 a refresh followed: a second one in a row signs out.
    let refreshed = false;
    while (c.stream === controller && c.token()) {
      try {
        const headers: Record<string, string> = { Authorization: `Bearer ${c.token()}` };
        if (lastEventId) headers['Last-Event-ID'] = lastEventId;
        const res = await fetch('/api/v2/events', { headers, signal: controller.signal });
        if (res.status === 401) {
          // An expired access token: refresh once and reconnect at once; an ended session signs out.
          if (!refreshed && (await c.refresh())) {
            refreshed = true;
            continue;
          }
          return c.signOut('Your session ended; please log in again.');
        }
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        refreshed = false;
        delay = 1000;
        await read(res.body);
      } catch (error) {
        if (controller.signal.aborted) return;
        console.warn('live events interrupted', error);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  };

  /** Reads the stream's frames until it ends. */
  async function read(body: ReadableStream<Uint8Array>) {
    const reader = body.getReader();
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
        onFrame(frame);
        cut = buffer.indexOf('\n\n');
      }
    }
  }

  function onFrame(frame: string) {
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
    } else if (event === 'campaign' && data) {
      // A campaign's progress; the page's polling stays, for an API that sends no such frames.
      if (id) lastEventId = id;
      c.onCampaignEvent(JSON.parse(data) as CampaignEvent);
    } else if (event === 'ready' && data) {
      // Live from here on: reload what is on screen so that nothing before this point is missed.
      const ready = JSON.parse(data) as { after: string; resumed: boolean };
      if (!ready.resumed) {
        lastEventId = ready.after;
        refreshView();
      }
    }
  }

  function refreshView() {
    if (c.currentCall && !c.$('call-view').hidden) void c.loadCall(c.currentCall, false);
    else if (!c.$('calls-view').hidden) void c.loadCalls(true);
    else if (!c.$('campaigns-view').hidden) void c.loadCampaigns(true);
  }

  function onCallEvent(ev: CallEvent) {
    c.liveStatus.delete(ev.call_id);
    c.liveStatus.set(ev.call_id, { status: ev.status, reason: ev.reason });
    if (c.liveStatus.size > 1000) c.liveStatus.delete(c.liveStatus.keys().next().value as string);
    c.onListEvent(ev);
    if (c.currentCall === ev.call_id) c.onCurrentCallEvent(ev);
  }
}
