/**
 * What the console's browser modules share. Each module is a function `(c: ConsoleContext) => void`
 * that is served as its source text (see ./script.ts), so it may use only its argument, browser
 * globals and types: nothing it imports survives. A module adds its functions to `c`, and calls
 * the other modules' through `c` at run time, so the order modules are set up in does not matter.
 * A module function is as long as its module (over 80 lines for some): its source text is what is
 * served, so it cannot import pieces of itself; the functions inside it are the units, each short.
 */

export type Json = Record<string, unknown>;

export interface Call {
  call_id: string;
  phone_number: string;
  status: string;
  reason: string | null;
  created_at: string;
  is_active: boolean;
  [k: string]: unknown;
}

export interface CallEvent {
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
  /** Flow events only (step_started, step_finished, flow_ended): the step and what it gave. */
  flow?: FlowDetail | null;
}

/** A flow's answer: the digits of a gather, a value set, or what a record step recorded. */
export type FlowAnswer = string | { recording: string; duration_ms: number };

/** What a flow event says about its step (the API's FlowEventDetail). */
export interface FlowDetail {
  run: number;
  segment: number;
  step: number;
  step_id: string | null;
  verb: string;
  answer?: { name: string; value: FlowAnswer };
  answered_by?: string;
  outcome?: string;
  detail?: string;
}

/** How a call's flow ended (the API's FlowSummary); `outcome` null while it runs. */
export interface FlowSummary {
  flow_id: string | null;
  flow_version: number | null;
  outcome: string | null;
  ended_at_step: { index: number; id: string | null } | null;
  detail: string | null;
}

export interface Me {
  id: string;
  username: string;
  role: 'admin' | 'operator' | 'viewer';
}

/** A campaign as the API answers it (the fields the console reads). */
export interface Campaign {
  campaign_id: string;
  name: string;
  state: string;
  counters: Record<string, number>;
  created_at: string;
  [k: string]: unknown;
}

/** A `campaign` frame of the live stream: a campaign's state and counters at a moment. */
export interface CampaignEvent {
  campaign_id: string;
  state?: string;
  counters?: Record<string, number>;
  at?: string;
}

/** GET /api/v2/campaigns/{id}/timeline: attempts ended per minute, by outcome. */
export interface CampaignTimeline {
  from: string;
  outcomes: string[];
  buckets: { start: string; counts: Record<string, number> }[];
}

/** What POST /api/v2/token answers, as the console keeps it. */
export interface TokenPair {
  access_token: string;
  expires_in: number;
  refresh_token: string;
}

/** An API answer that was not 2xx: its status and problem+json body. */
interface HttpError extends Error {
  readonly status: number;
  readonly body: Json;
}

export interface ConsoleContext {
  // ---- state.client.ts: what several modules read ----
  /** The user logged in, once /me answered. */
  me: Me | null;
  /** The call whose page is open (its id), or null on any other page. */
  currentCall: string | null;
  /** The live stream being read; aborting it stops reading. */
  stream: AbortController | null;
  /**
   * The newest status the stream brought for each call (the last 1,000 calls). Statuses only move
   * forward, so a list answered before that status arrived shows the live one instead of its own.
   */
  liveStatus: Map<string, { status: string; reason: string | null }>;
  /** The page the message on screen is about: leaving that page takes the message away. */
  flashPage: string;
  /** The final statuses: a call in one of them changes no more (set by script.ts, from the contract). */
  FINAL: string[];
  /** How far along each status is, from the contract: a status only moves to a higher rank. */
  RANK: Readonly<Record<string, number>>;
  /** Each campaign action and the states it is allowed from (set by script.ts, from the contract). */
  CAMPAIGN_ACTIONS: Readonly<Record<string, readonly string[]>>;
  /** The days of the week as calling windows name them, Monday first. */
  WEEKDAYS: readonly string[];
  /** The outcomes an attempt ends with, in the order charts and counters show them. */
  OUTCOMES: readonly string[];
  /** The campaign whose page is open (its id), or null on any other page. */
  currentCampaign: string | null;
  /** A status's place in the order statuses move in (every final status shares the last). */
  rank(status: string): number;

  // ---- view.client.ts: the DOM and its helpers ----
  $<T extends HTMLElement = HTMLElement>(id: string): T;
  text(el: HTMLElement, value: string): void;
  /** The page (its hash) in use. */
  here(): string;
  flash(message: string, page?: string): void;
  /** Shows an error under a form: its message, then each refused field in plain words. */
  showError(id: string, error: unknown): void;
  showView(id: string, focus?: boolean): void;
  statusBadge(status: string): HTMLSpanElement;
  cell(row: HTMLTableRowElement, content: string | Node, optional?: boolean): HTMLTableCellElement;
  when(iso: string | null | undefined): string;
  confirmAction(question: string, detail: string, action: string): Promise<boolean>;

  // ---- api.client.ts: the JSON API ----
  token(): string | null;
  /** Keeps a login's or a refresh's tokens for this tab and schedules the next refresh, or forgets them (null). */
  saveSession(pair: TokenPair | null): void;
  /** Arms the timer that refreshes the access token before it expires, from what the tab keeps. */
  scheduleRefresh(): void;
  /** Gets the next access token with the refresh token, one refresh at a time; false when the session ended. */
  refresh(): Promise<boolean>;
  HttpError: new (status: number, body: Json) => HttpError;
  api<T = Json>(path: string, init?: RequestInit & { json?: unknown }): Promise<T>;

  // ---- session.client.ts: logging in and out, and which page shows ----
  signOut(message?: string, focus?: boolean): void;
  start(): Promise<void>;
  route(): void;

  // ---- stream.client.ts: live events ----
  openStream(): Promise<void>;

  // ---- calls.client.ts: the list and placing a call ----
  loadCalls(reset: boolean): Promise<void>;
  /** Shows a live event in the list, if its call is listed. */
  onListEvent(ev: CallEvent): void;

  // ---- call.client.ts: one call's page ----
  loadCall(id: string, focus?: boolean): Promise<void>;
  /** Shows a live event of the call on screen: its badge, its row in the log. */
  onCurrentCallEvent(ev: CallEvent): void;

  // ---- flow.client.ts: the call's flow, its answers and recordings ----
  /** Empties the flow section and forgets its recordings (their fetches land nowhere). */
  clearFlow(): void;
  /** Shows the flow of `call` from its fetched details and its events so far (in order). */
  showFlow(call: Call, events: CallEvent[]): void;
  /** Shows a live flow event of the call on screen. */
  onFlowEvent(ev: CallEvent): void;
  /** A flow event in a few words, for the event log. */
  describeFlowEvent(flow: FlowDetail): string;

  // ---- campaigns.client.ts: the list and creating a campaign ----
  loadCampaigns(reset: boolean): Promise<void>;
  /** Fills the form's choice of flows with the user's saved flows. */
  loadCampaignFlows(): Promise<void>;
  /** Shows a live campaign frame in the list, if its campaign is listed. */
  onCampaignListEvent(ev: CampaignEvent): void;
  /** Contacts finished (done, on the do-not-call list, canceled) and in all. */
  progressOf(counters: Record<string, number>): { finished: number; total: number };
  progressBar(counters: Record<string, number>, label: string): HTMLProgressElement;
  /** Shows each refused field of a problem beside its control (`data-pointer`), focusing the first. */
  showFieldErrors(form: HTMLFormElement, error: unknown): void;
  clearFieldErrors(form: HTMLFormElement): void;

  // ---- campaign.client.ts: one campaign's page ----
  loadCampaign(id: string, focus?: boolean): Promise<void>;
  /** Stops following the campaign on screen (another page shows). */
  leaveCampaign(): void;
  /** Shows a live campaign frame: in the list, and on the campaign's page if it is open. */
  onCampaignEvent(ev: CampaignEvent): void;

  // ---- campaign-chart.client.ts ----
  /** Draws the timeline into #campaign-chart, with its legend in #campaign-legend. */
  drawCampaignChart(t: CampaignTimeline): void;

  // ---- users.client.ts ----
  loadUsers(focus?: string): Promise<void>;

  // ---- sidecars.client.ts: the sidecars' state and the form's picker ----
  loadSidecars(): Promise<void>;
}
