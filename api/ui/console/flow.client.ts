import type { CallEvent, ConsoleContext, FlowAnswer, FlowDetail, FlowSummary } from './context.ts';

interface Recording {
  name: string;
  recording: string;
  duration_ms: number;
  url: string;
}

/** A step run, as its events told it: started, and finished once its step_finished came. */
interface StepRun {
  started: FlowDetail;
  finished: FlowDetail | null;
}

/**
 * The flow section of a call's page: the steps run, in order and live; how the flow ended; the
 * answers; a player for each recording. A recording's audio needs the token, so it is fetched and
 * played from a blob: URL. Whatever is fetched for one call lands only while that call is on
 * screen: switching calls aborts the fetches and revokes the blob URLs.
 * (One function for the whole module: see ./context.ts.)
 */
export function consoleFlow(c: ConsoleContext): void {
  const OUTCOME_WORDS: Record<string, string> = {
    finished: 'Finished',
    continued: 'Handed to the dialplan',
    callee_hangup: 'The callee hung up',
    failed: 'Failed',
    interrupted: 'Interrupted: the sidecar restarted',
    limit: 'Stopped: it ran too long',
  };

  /** Bumped whenever another call's flow shows: an answer for an older one is dropped. */
  let generation = 0;
  let fetches = new AbortController();
  let blobUrls: string[] = [];
  /** The recording shown under each answer name. */
  let shownRecordings = new Map<string, string>();
  let runs = new Map<number, StepRun>();
  let answers = new Map<string, FlowAnswer>();
  let answeredBy: string | null = null;
  let end: { outcome: string; index: number | null; id: string | null; detail: string | null } | null = null;
  let callFinal = false;
  let hasFlow = false;

  c.clearFlow = () => {
    generation++;
    fetches.abort();
    fetches = new AbortController();
    for (const url of blobUrls) URL.revokeObjectURL(url);
    blobUrls = [];
    shownRecordings = new Map();
    reset();
    c.$('flow-recordings').replaceChildren();
    render();
  };

  function reset() {
    runs = new Map();
    answers = new Map();
    answeredBy = null;
    end = null;
    callFinal = false;
    hasFlow = false;
  }

  c.showFlow = (call, events) => {
    reset();
    const summary = call.flow as FlowSummary | null;
    hasFlow = summary !== null && summary !== undefined;
    callFinal = c.FINAL.includes(call.status);
    answeredBy = (call.answered_by as string | null) ?? null;
    for (const ev of events) if (ev.flow) apply(ev);
    // The call's own answers hold any the events on hand did not bring.
    for (const [name, value] of Object.entries((call.answers ?? {}) as Record<string, FlowAnswer>))
      if (!answers.has(name)) answers.set(name, value);
    if (summary?.outcome)
      end = {
        outcome: summary.outcome,
        index: summary.ended_at_step?.index ?? null,
        id: summary.ended_at_step?.id ?? null,
        detail: summary.detail,
      };
    render();
    if (hasFlow) void loadRecordings(call.call_id);
  };

  c.onFlowEvent = (ev) => {
    hasFlow = true;
    apply(ev);
    render();
    const value = ev.flow?.answer?.value;
    if (typeof value === 'object' && value !== null) void loadRecordings(ev.call_id);
  };

  function apply(ev: CallEvent) {
    const flow = ev.flow!;
    hasFlow = true;
    if (ev.type === 'step_started') {
      if (!runs.has(flow.run)) runs.set(flow.run, { started: flow, finished: null });
    } else if (ev.type === 'step_finished') {
      runs.set(flow.run, { started: runs.get(flow.run)?.started ?? flow, finished: flow });
      if (flow.answer) answers.set(flow.answer.name, flow.answer.value);
      if (flow.answered_by) answeredBy = flow.answered_by;
    } else if (ev.type === 'flow_ended') {
      end = {
        outcome: flow.outcome ?? 'finished',
        index: flow.step,
        id: flow.step_id,
        detail: flow.detail ?? null,
      };
    }
  }

  function answerText(value: FlowAnswer): string {
    return typeof value === 'string'
      ? value === ''
        ? '(empty)'
        : value
      : `a recording of ${seconds(value.duration_ms)}`;
  }

  function seconds(ms: number): string {
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  c.describeFlowEvent = (flow) => {
    const parts = [flow.step_id ? `${flow.verb} ${flow.step_id}` : flow.verb];
    if (flow.answer) parts.push(`${flow.answer.name} = ${answerText(flow.answer.value)}`);
    if (flow.answered_by) parts.push(`answered by ${flow.answered_by}`);
    if (flow.outcome) parts.push(OUTCOME_WORDS[flow.outcome] ?? flow.outcome);
    if (flow.detail) parts.push(flow.detail);
    return parts.join(' · ');
  };

  function render() {
    c.$('call-flow').hidden = !hasFlow;
    renderEnd();
    renderPath();
    renderAnswers();
    c.$('flow-recordings-empty').hidden = shownRecordings.size > 0;
  }

  function renderEnd() {
    let text: string;
    if (end) {
      const where = end.index === null ? '' : ` at step ${end.index + 1}${end.id ? ` (${end.id})` : ''}`;
      text = `${OUTCOME_WORDS[end.outcome] ?? end.outcome}${where}${end.detail ? `: ${end.detail}` : ''}.`;
    } else if (runs.size > 0) text = 'Running.';
    else if (callFinal) text = 'Not run: the call ended before it was answered.';
    else text = 'Waiting: the flow starts once the callee answers.';
    c.text(c.$('flow-end'), text);
  }

  function renderPath() {
    const list = c.$('flow-path');
    list.replaceChildren();
    for (const run of [...runs.keys()].sort((a, b) => a - b)) {
      const { started, finished } = runs.get(run)!;
      const li = document.createElement('li');
      li.dataset.run = String(run);
      li.dataset.verb = started.verb;
      const verb = document.createElement('strong');
      verb.textContent = started.verb;
      const where = document.createElement('span');
      where.className = 'muted';
      const request = started.segment > 0 ? `, from request ${started.segment}` : '';
      where.textContent = ` step ${started.step + 1}${started.step_id ? ` “${started.step_id}”` : ''}${request}`;
      const result = [];
      if (finished?.answer) result.push(`${finished.answer.name} = ${answerText(finished.answer.value)}`);
      if (finished?.answered_by) result.push(`answered by ${finished.answered_by}`);
      if (finished?.detail) result.push(finished.detail);
      if (!finished) result.push(end ? 'ended here' : 'running…');
      li.append(verb, where, result.length ? ` — ${result.join(' · ')}` : '');
      list.append(li);
    }
    c.$('flow-path-empty').hidden = runs.size > 0;
  }

  function renderAnswers() {
    const dl = c.$('flow-answers');
    dl.replaceChildren();
    const rows: [string, string][] = [...answers].map(([name, value]) => [name, answerText(value)]);
    if (answeredBy) rows.push(['Answered by', answeredBy]);
    for (const [k, v] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      dl.append(dt, dd);
    }
    c.$('flow-answers-empty').hidden = rows.length > 0;
  }

  /** Lists the call's recordings and adds a player for each one not shown yet. */
  async function loadRecordings(callId: string) {
    const mine = generation;
    let list: { recordings: Recording[] };
    try {
      list = await c.api<{ recordings: Recording[] }>(`/api/v2/calls/${callId}/recordings`, {
        signal: fetches.signal,
      });
    } catch (error) {
      if (mine === generation && c.currentCall === callId)
        c.flash(`Could not list the recordings: ${(error as Error).message}`);
      return;
    }
    if (mine !== generation || c.currentCall !== callId) return;
    for (const r of list.recordings) {
      if (shownRecordings.get(r.name) === r.recording) continue;
      shownRecordings.set(r.name, r.recording);
      showRecording(r, mine, callId);
    }
    render();
  }

  function showRecording(r: Recording, mine: number, callId: string) {
    const li = document.createElement('li');
    li.dataset.name = r.name;
    li.dataset.recording = r.recording;
    const title = document.createElement('p');
    const name = document.createElement('strong');
    name.textContent = r.name;
    title.append(name, ` · ${seconds(r.duration_ms)}`);
    const audio = document.createElement('audio');
    audio.controls = true;
    audio.preload = 'metadata';
    audio.setAttribute('aria-label', `Recording ${r.name}, ${seconds(r.duration_ms)}`);
    const link = document.createElement('a');
    link.download = `${r.name}.wav`;
    link.textContent = `Download ${r.name} (WAV)`;
    link.hidden = true;
    const state = document.createElement('span');
    state.className = 'muted small';
    state.textContent = 'Loading the audio…';
    const actions = document.createElement('p');
    actions.append(link, state);
    li.append(title, audio, actions);
    const list = c.$('flow-recordings');
    list.querySelector(`li[data-name="${r.name}"]`)?.remove();
    list.append(li);
    void fetchAudio(r.url, mine, callId).then(
      (url) => {
        if (!url || !li.isConnected) return;
        audio.src = url;
        link.href = url;
        link.hidden = false;
        state.textContent = '';
      },
      (error: Error) => {
        if (mine === generation) state.textContent = `Could not load the audio: ${error.message}`;
      },
    );
  }

  /** The audio at `url`, fetched with the token, as a blob: URL; null once another call shows. */
  async function fetchAudio(url: string, mine: number, callId: string): Promise<string | null> {
    const res = await fetch(url, {
      headers: { Authorization: `Bearer ${c.token()}` },
      signal: fetches.signal,
    });
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { detail?: string };
      throw new Error(body.detail ?? `HTTP ${res.status}`);
    }
    const blob = await res.blob();
    if (mine !== generation || c.currentCall !== callId) return null;
    const objectUrl = URL.createObjectURL(blob);
    blobUrls.push(objectUrl);
    return objectUrl;
  }
}
