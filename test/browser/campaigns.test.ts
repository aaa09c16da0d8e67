import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { collectPageErrors, launchBrowser, POLLED, screenshot } from '../harness/browser.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';

/**
 * The campaigns page, through the real API, the sidecar pulling due attempts and the simulator's
 * callees (whose number's last digit decides the outcome): created through the form, contacts
 * uploaded as CSV with its rejection report, started, followed live to the end, its contacts
 * filtered and paged, its results exported; and on a phone, every control 44 px and nothing wider
 * than the screen.
 */

let stack: E2EStack;
let browser: Browser;
let operator: TestUser;
let viewer: TestUser;
/** The campaign the first test creates, for the tests after it. */
let campaignId = '';

/** Last digit → the outcome the simulator gives (5, 2 and 9 left out: special, or slow to ring out). */
const DIGITS = ['0', '1', '3', '4', '6', '7', '8'];
const VALID = 30;
const number = (i: number) =>
  `+1202555${String(1000 + i * 10 + Number(DIGITS[i % DIGITS.length])).slice(-4)}`;
/** 30 valid rows, with three rows that cannot be contacts at rows 4, 12 and 33. */
function contactsCsv() {
  const rows = Array.from({ length: VALID }, (_, i) => `${number(i)},Person ${i}`);
  rows.splice(3, 0, 'not a number,Nobody');
  rows.splice(11, 0, ',Blank');
  rows.push('12,Short');
  return `phone_number,NAME\r\n${rows.join('\r\n')}\r\n`;
}
const REJECTED_ROWS = ['4', '12', '33'];

beforeAll(async () => {
  stack = await startE2EStack({
    sidecar: { campaignPull: true, originateCps: 100, maxConcurrentCalls: 20 },
  });
  browser = await launchBrowser();
  operator = await stack.user('operator');
  viewer = await stack.user('viewer');
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function logIn(page: Page, user: { username: string; password: string }, hash = '#/campaigns') {
  await page.goto(`${stack.apiUrl}/console${hash}`);
  const form = page.locator('#login-form');
  await form.getByLabel('Username').fill(user.username);
  await form.getByLabel('Password').fill(user.password);
  await form.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#nav').waitFor();
}

const api = async <T>(path: string, user: TestUser = operator): Promise<T> =>
  (await (await stack.request(path, { token: user.token })).json()) as T;

interface Campaign {
  state: string;
  counters: Record<string, number>;
}

/** Every control on screen smaller than 44 px either way; a checkbox counts with its label. */
function smallControls(page: Page) {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, summary'))
      .map((el) =>
        el instanceof HTMLInputElement && el.type === 'checkbox' ? (el.closest('label') ?? el) : el,
      )
      .filter((el) => {
        const r = el.getBoundingClientRect();
        return el.getClientRects().length > 0 && r.right > 0 && r.left < window.innerWidth;
      })
      .map((el) => {
        const r = el.getBoundingClientRect();
        return {
          el: `${el.tagName.toLowerCase()} ${el.id || el.textContent?.trim()}`,
          w: r.width,
          h: r.height,
        };
      })
      .filter((c) => c.w < 44 || c.h < 44),
  );
}

const noOverflow = (page: Page, width: number) =>
  page.evaluate((w) => document.documentElement.scrollWidth <= w, width);

describe('campaigns in the console', () => {
  test('created through the form: a refused value is shown beside its field, then the campaign is made', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await logIn(page, operator);
    await page.locator('#campaigns-view').waitFor();
    expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe('Campaigns');
    const form = page.locator('#campaign-form');
    await form.getByLabel('Name').fill('Browser reminders');
    await form.getByLabel('Time zone').fill('UTC');
    const window1 = form.locator('fieldset.window').first();
    for (const day of ['Sat', 'Sun']) await window1.getByLabel(day, { exact: true }).check();
    await window1.getByLabel('From').fill('09:00');
    await window1.getByLabel('Until').fill('08:00');
    await form.getByLabel('Calls per second').fill('0');
    await form.getByRole('button', { name: 'Create campaign' }).click();
    // Both refusals beside their fields (once the API has answered), the fields marked invalid and
    // described by them.
    const cps = page.locator('#campaign-cps');
    await page.locator('#campaign-cps + .field-note').waitFor();
    expect(await cps.getAttribute('aria-invalid')).toBe('true');
    const cpsNote = page.locator('#campaign-cps + .field-note');
    expect(await cpsNote.textContent()).toMatch(/\S/);
    expect(await cps.getAttribute('aria-describedby')).toContain(await cpsNote.getAttribute('id'));
    const until = window1.getByLabel('Until');
    expect(await until.getAttribute('aria-invalid')).toBe('true');
    expect(await window1.locator('input[data-part="end"] + .field-note').textContent()).toContain(
      'after start',
    );
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-invalid'))).toBe('true');
    expect(await page.locator('#campaign-error').isVisible()).toBe(true);
    expect((await api<{ items: unknown[] }>('/api/v2/campaigns')).items).toHaveLength(0);
    await screenshot(page, 'console-campaign-refused');

    // Corrected: all week, all day; busy retried once after a second; two windows, one removed.
    await window1.getByLabel('From').fill('00:00');
    // Until midnight: the API gets 24:00, the end of the day.
    await window1.getByLabel('Until').fill('00:00');
    await form.getByLabel('Calls per second').fill('5');
    await form.getByLabel('Max concurrent calls').fill('10');
    await form.getByLabel('Max attempts per contact per day').fill('2');
    await form.locator('#retry-busy-after').fill('1');
    await form.locator('#retry-busy-max').fill('2');
    await form.getByRole('button', { name: 'Add a window' }).click();
    expect(await form.locator('fieldset.window').count()).toBe(2);
    await form.getByRole('button', { name: 'Remove window 2' }).click();
    expect(await form.locator('fieldset.window').count()).toBe(1);
    await form.getByRole('button', { name: 'Create campaign' }).click();
    await page.waitForURL(/#\/campaigns\/[0-9a-f-]{36}$/);
    campaignId = /#\/campaigns\/(.+)$/.exec(page.url())![1]!;
    await page.locator('#campaign-state', { hasText: 'draft' }).waitFor();
    expect(await page.locator('#campaign-title').textContent()).toBe('Campaign “Browser reminders”');
    expect(await page.locator('#campaign-start').isEnabled()).toBe(true);
    expect(await page.locator('#campaign-pause').isEnabled()).toBe(false);
    expect(await page.locator('#campaign-resume').isEnabled()).toBe(false);
    const made = await api<Campaign & Record<string, unknown>>(`/api/v2/campaigns/${campaignId}`);
    expect(made).toMatchObject({
      name: 'Browser reminders',
      timezone: 'UTC',
      flow_id: null,
      windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' }],
      retry: { busy: { after_seconds: 1, max_attempts: 2 } },
      cps: 5,
      max_concurrent: 10,
      max_attempts_per_day: 2,
    });
    // The one error the page met is the refusal it showed.
    expect(errors).toEqual([
      'Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)',
    ]);
    await page.close();
  }, 60_000);

  test('a CSV upload reports its accepted count and each rejected row with its reason', async () => {
    expect(campaignId).not.toBe('');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await logIn(page, operator, `#/campaigns/${campaignId}`);
    await page.locator('#campaign-state', { hasText: 'draft' }).waitFor();
    await page.setInputFiles('#import-file', {
      name: 'contacts.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(contactsCsv()),
    });
    await page.getByRole('button', { name: 'Upload contacts' }).click();
    const summary = page.locator('#import-summary');
    await summary.filter({ hasText: 'accepted' }).waitFor();
    expect(await summary.textContent()).toBe(`${VALID} contacts accepted, 3 rows rejected.`);
    const rejected = await page
      .locator('#import-rejected tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => Array.from((r as HTMLTableRowElement).cells, (td) => td.textContent)),
      );
    expect(rejected.map((r) => r[0])).toEqual(REJECTED_ROWS);
    for (const r of rejected) expect(r[1]).toContain('phone_number');
    await page.locator('#campaign-progress-text', { hasText: `0 of ${VALID} contacts finished` }).waitFor();
    // The contacts are fetched after the campaign is shown: their first page arrives on its own.
    await page.waitForFunction(
      () => document.querySelectorAll('#contacts-table tbody tr').length === 25,
      undefined,
      POLLED,
    );
    await screenshot(page, 'console-campaign-import');
    expect(errors).toEqual([]);
    await page.close();
  }, 30_000);

  test('started, paused and resumed by its buttons, then followed live to completion with its chart', async () => {
    expect(campaignId).not.toBe('');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await logIn(page, operator, `#/campaigns/${campaignId}`);
    await page.locator('#campaign-state', { hasText: 'draft' }).waitFor();
    // Every progress the page shows, and the state at that moment.
    await page.evaluate(() => {
      const seen: { text: string; state: string }[] = [];
      (window as unknown as { progressSeen: typeof seen }).progressSeen = seen;
      new MutationObserver(() =>
        seen.push({
          text: document.getElementById('campaign-progress-text')?.textContent ?? '',
          state: document.getElementById('campaign-state')?.textContent ?? '',
        }),
      ).observe(document.getElementById('campaign-progress-text')!, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('#campaign-state', { hasText: 'running' }).waitFor();
    expect(await page.locator('#campaign-start').isEnabled()).toBe(false);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('#campaign-state', { hasText: 'paused' }).waitFor();
    expect(await page.locator('#campaign-pause').isEnabled()).toBe(false);
    expect(await page.locator('#campaign-resume').isEnabled()).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('campaign-resume');
    expect((await api<Campaign>(`/api/v2/campaigns/${campaignId}`)).state).toBe('paused');
    await page.keyboard.press('Enter');
    await page.locator('#campaign-state', { hasText: 'running' }).waitFor();
    expect(await page.locator('#campaign-pause').isEnabled()).toBe(true);
    await page.locator('#campaign-state', { hasText: 'completed' }).waitFor({ timeout: 60_000 });
    await page
      .locator('#campaign-progress-text', { hasText: `${VALID} of ${VALID} contacts finished (100%)` })
      .waitFor();
    const seen = await page.evaluate(
      () => (window as unknown as { progressSeen: { text: string; state: string }[] }).progressSeen,
    );
    // The progress moved while the campaign ran, not only once at its end.
    const between = seen.filter((s) => {
      const done = Number(/^(\d+) of/.exec(s.text)?.[1] ?? -1);
      return s.state === 'running' && done > 0 && done < VALID;
    });
    expect(between.length).toBeGreaterThan(0);
    expect(
      await page
        .locator('#campaign-progress')
        .evaluate((p) => [(p as HTMLProgressElement).value, (p as HTMLProgressElement).max]),
    ).toEqual([VALID, VALID]);
    for (const button of ['start', 'pause', 'resume', 'cancel'])
      expect(await page.locator(`#campaign-${button}`).isEnabled()).toBe(false);
    // The counters and the chart agree with the API.
    const final = await api<Campaign>(`/api/v2/campaigns/${campaignId}`);
    for (const name of ['total', 'done', 'attempts', 'outcome_answered', 'outcome_busy', 'outcome_failed'])
      expect(await page.locator(`#campaign-counters [data-counter="${name}"] dd`).textContent()).toBe(
        String(final.counters[name]),
      );
    expect(final.counters.outcome_busy).toBeGreaterThan(0);
    const legendText = (o: string) => page.locator(`#campaign-legend li[data-outcome="${o}"]`).textContent();
    for (const o of ['answered', 'busy', 'failed'])
      await page
        .locator(`#campaign-legend li[data-outcome="${o}"]`, {
          hasText: `: ${final.counters[`outcome_${o}`]}`,
        })
        .waitFor();
    expect(await legendText('no_answer')).toBe('no answer: 0');
    const svg = page.locator('#campaign-chart svg');
    expect(await svg.getAttribute('role')).toBe('img');
    expect(await svg.locator('title').first().textContent()).toBe('Attempts ended per minute, by outcome');
    expect(await svg.locator('desc').textContent()).toContain(`${final.counters.outcome_busy} busy`);
    expect(await svg.locator('rect').count()).toBeGreaterThan(0);
    await page.locator('#campaign-chart').scrollIntoViewIfNeeded();
    await screenshot(page, 'console-campaign-done');
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  test('the contacts table filters by state and outcome and pages with its cursor; the export is one row per contact', async () => {
    expect(campaignId).not.toBe('');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await logIn(page, operator, `#/campaigns/${campaignId}`);
    await page.locator('#campaign-state', { hasText: 'completed' }).waitFor();
    const rows = page.locator('#contacts-table tbody tr');
    const numbers = () =>
      rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLTableRowElement).cells[1]!.textContent));
    await rows.first().waitFor();
    expect(await rows.count()).toBe(25);
    // Pages by the cursor: the next page holds the rest, then back to the first.
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.locator('#contacts-first').waitFor();
    expect(await rows.count()).toBe(VALID - 25);
    expect(await page.locator('#contacts-next').isVisible()).toBe(false);
    const second = await numbers();
    expect(second).toEqual(Array.from({ length: VALID - 25 }, (_, i) => number(25 + i)));
    await page.getByRole('button', { name: 'First page' }).click();
    await page.locator('#contacts-first').waitFor({ state: 'hidden' });
    expect(await numbers()).toEqual(Array.from({ length: 25 }, (_, i) => number(i)));
    // Filtered: those that ended busy are those whose number ends in 1 or 8, as the API lists them.
    await page.getByLabel('Final outcome').selectOption('busy');
    await page.getByRole('button', { name: 'Filter' }).click();
    const busy = Array.from({ length: VALID }, (_, i) => number(i)).filter((n) => /[18]$/.test(n));
    await page.waitForFunction(
      (n) => document.querySelectorAll('#contacts-table tbody tr').length === n,
      busy.length,
      POLLED,
    );
    expect(await numbers()).toEqual(busy);
    const outcomes = await rows.evaluateAll((trs) =>
      trs.map((tr) => (tr as HTMLTableRowElement).cells[4]!.textContent),
    );
    expect(new Set(outcomes)).toEqual(new Set(['busy']));
    await page.getByLabel('State', { exact: true }).last().selectOption('pending');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('#contacts-empty').waitFor();
    expect(await rows.count()).toBe(0);
    // The export: fetched with the token, saved as CSV, a header then one row per contact.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export results (CSV)' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('Browser-reminders-results.csv');
    const csv = readFileSync((await download.path())!, 'utf8')
      .trimEnd()
      .split('\r\n');
    expect(csv[0]).toStartWith('phone_number,state,attempts,final_outcome');
    expect(csv.slice(1).map((line) => line.split(',')[0])).toEqual(
      Array.from({ length: VALID }, (_, i) => number(i)),
    );
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  test('a campaign frame of the live stream moves the page; a viewer reads without the controls', async () => {
    expect(campaignId).not.toBe('');
    const other = await stack.request('/api/v2/campaigns', {
      token: operator.token,
      json: { name: 'Framed', timezone: 'UTC', windows: [{ days: ['mon'], start: '09:00', end: '10:00' }] },
    });
    expect(other.status).toBe(201);
    const { campaign_id: framed } = (await other.json()) as { campaign_id: string };
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    // The stream, answered here: ready, then a frame of the shape the API's campaign events have.
    const counters = { total: 40, pending: 28, in_progress: 2, done: 10, attempts: 12, outcome_answered: 10 };
    await page.route('**/api/v2/events', (route) =>
      route.fulfill({
        status: 200,
        headers: { 'Content-Type': 'text/event-stream' },
        body:
          'event: ready\ndata: {"after":"0","resumed":false}\n\n' +
          `event: campaign\ndata: ${JSON.stringify({ campaign_id: framed, state: 'running', counters, at: new Date().toISOString() })}\n\n`,
      }),
    );
    await logIn(page, operator, `#/campaigns/${framed}`);
    await page.locator('#campaign-state', { hasText: 'running' }).waitFor();
    await page.locator('#campaign-progress-text', { hasText: '10 of 40 contacts finished' }).waitFor();
    expect(await page.locator('#campaign-pause').isEnabled()).toBe(true);
    // Canceled after a question whose Cancel has the focus first; the API's answer sets the state.
    await page.getByRole('button', { name: 'Cancel campaign' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.getByRole('heading').textContent()).toBe('Cancel “Framed”?');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm-cancel');
    await dialog.getByRole('button', { name: 'Cancel the campaign' }).click();
    await page.locator('#campaign-state', { hasText: 'canceled' }).waitFor();
    expect((await api<Campaign>(`/api/v2/campaigns/${framed}`)).state).toBe('canceled');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('campaign-title');
    expect(errors).toEqual([]);
    await page.close();

    const viewerPage = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await logIn(viewerPage, viewer, `#/campaigns/${campaignId}`);
    await viewerPage.locator('#campaign-state', { hasText: 'completed' }).waitFor();
    expect(await viewerPage.locator('#import-form').count()).toBe(0);
    expect(await viewerPage.locator('#campaign-start').count()).toBe(0);
    await viewerPage.waitForFunction(
      () => document.querySelectorAll('#contacts-table tbody tr').length === 25,
      undefined,
      POLLED,
    );
    await viewerPage.evaluate(() => {
      location.hash = '#/campaigns';
    });
    await viewerPage.locator('#campaigns-table tbody tr').first().waitFor();
    expect(await viewerPage.locator('#campaign-form').count()).toBe(0);
    expect(errors).toEqual([]);
    await viewerPage.close();
  }, 30_000);

  test('on a phone the list, the form and the campaign fit, with 44 px controls, by keyboard too', async () => {
    expect(campaignId).not.toBe('');
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await logIn(page, operator);
    await page.locator('#campaigns-table tbody tr').first().waitFor();
    expect(await smallControls(page)).toEqual([]);
    expect(await noOverflow(page, 390)).toBe(true);
    const row = page.locator(`#campaigns-table tr[data-campaign-id="${campaignId}"]`);
    expect(await row.locator('progress').getAttribute('aria-label')).toBe('Progress of Browser reminders');
    // A day is checked by keyboard: its box takes the focus by Tab and Space checks it.
    const sat = page.locator('#campaign-form fieldset.window').first().getByLabel('Sat', { exact: true });
    await page.locator('#campaign-form fieldset.window').first().getByLabel('Fri', { exact: true }).focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).value)).toBe('sat');
    await page.keyboard.press('Space');
    expect(await sat.isChecked()).toBe(true);
    await screenshot(page, 'console-campaigns-phone');
    await row.getByRole('link').click();
    await page.locator('#campaign-state', { hasText: 'completed' }).waitFor();
    await page.locator('#campaign-chart svg').waitFor();
    await page.locator('#contacts-table tbody tr').first().waitFor();
    expect(await smallControls(page)).toEqual([]);
    expect(await noOverflow(page, 390)).toBe(true);
    await page.locator('#campaign-chart').scrollIntoViewIfNeeded();
    await screenshot(page, 'console-campaign-phone');
    await page.close();
  }, 30_000);
});
