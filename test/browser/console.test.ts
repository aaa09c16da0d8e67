import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { APIResponse, Browser, Page, Route } from 'playwright-core';
import { CALL_STATUSES } from '../../db/schema.ts';
import { collectPageErrors, launchBrowser, screenshot } from '../harness/browser.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';

let stack: E2EStack;
let browser: Browser;
let admin: TestUser;

beforeAll(async () => {
  // At a fifth of real time a call to …0 rings, is answered and ends within about a second and a
  // half, and a call to …2 rings for six seconds: long enough to hang it up by hand.
  stack = await startE2EStack({ sim: { timeScale: 0.2 } });
  browser = await launchBrowser();
  admin = await stack.user('admin');
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function logIn(page: Page, user: { username: string; password: string }) {
  await page.goto(`${stack.apiUrl}/console`);
  const form = page.locator('#login-form');
  await form.getByLabel('Username').fill(user.username);
  await form.getByLabel('Password').fill(user.password);
  await form.getByRole('button', { name: 'Log in' }).click();
}

describe('the operator console', () => {
  test('a wrong password shows an error and no console', async () => {
    const page = await browser.newPage();
    await logIn(page, { username: admin.username, password: 'not the password' });
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
    expect(await page.locator('#calls-view').isVisible()).toBe(false);
    await screenshot(page, 'console-login-error');
    await page.close();
  });

  test('log in, place a call to a number ending 0 and watch it reach completed live', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await logIn(page, admin);
    await page.locator('#calls-view').waitFor();
    await screenshot(page, 'console-calls');
    await page.locator('#originate-form').getByLabel('Phone number').fill('+15551234000');
    await page.getByRole('button', { name: 'Call' }).click();
    await page.locator('#call-view').waitFor();
    const status = page.locator('#call-status');
    await status
      .filter({ hasText: 'ringing' })
      .or(status.filter({ hasText: 'answered' }))
      .or(status.filter({ hasText: 'completed' }))
      .waitFor();
    await status.filter({ hasText: 'completed' }).waitFor({ timeout: 15_000 });
    const types = await page.locator('#events-table tbody tr td:nth-child(2)').allTextContents();
    expect(types).toEqual(['created', 'dialing', 'ringing', 'answered', 'ended']);
    // The badge follows the live event; the details follow one fetch later.
    await page.locator('#call-details', { hasText: 'normal' }).waitFor();
    expect(await page.locator('#hangup').isVisible()).toBe(false);
    await screenshot(page, 'console-call-completed');
    // The list shows the final status too.
    await page.getByRole('link', { name: 'All calls' }).click();
    await page.locator('#calls-table tbody tr .status.completed').first().waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  test('hang up a ringing call and see it canceled', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await logIn(page, admin);
    await page.locator('#calls-view').waitFor();
    await page.locator('#originate-form').getByLabel('Phone number').fill('+15551234002');
    await page.getByRole('button', { name: 'Call' }).click();
    await page.locator('#call-status', { hasText: 'ringing' }).waitFor({ timeout: 10_000 });
    await screenshot(page, 'console-call-ringing');
    await page.getByRole('button', { name: 'Hang up' }).click();
    await page.locator('#call-status', { hasText: 'canceled' }).waitFor({ timeout: 10_000 });
    await page.locator('#call-details', { hasText: 'hangup_requested' }).waitFor();
    await screenshot(page, 'console-call-canceled');
    await page.close();
  });

  test('details fetched before a newer live event do not take the status back', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await logIn(page, admin);
    await page.locator('#calls-view').waitFor();
    // The first answers for the call's details and event log are fetched at once but held back
    // until the live stream has moved the call on: they arrive stale.
    const held: { path: string; response: APIResponse }[] = [];
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let delivered = 0;
    await page.route(/\/api\/v2\/calls\/[0-9a-f-]{36}(\/events)?$/, async (route: Route) => {
      if (route.request().method() !== 'GET' || held.length >= 2) return route.continue();
      const entry = { path: new URL(route.request().url()).pathname, response: await route.fetch() };
      held.push(entry);
      await released;
      await route.fulfill({ response: entry.response });
      delivered++;
    });
    await page.locator('#originate-form').getByLabel('Phone number').fill('+15551234002');
    await page.getByRole('button', { name: 'Call' }).click();
    while (held.length < 2) await Bun.sleep(10);
    const details = held.find((h) => !h.path.endsWith('/events'))!;
    const stale = ((await details.response.json()) as { status: string }).status;
    const statuses: readonly string[] = CALL_STATUSES;
    await page.waitForFunction(
      ([before, known]) => {
        const shown = document.getElementById('call-status')?.textContent ?? '';
        return shown !== before && known.includes(shown);
      },
      [stale, statuses] as const,
      { timeout: 15_000 },
    );
    const live = await page.locator('#call-status').textContent();
    release();
    while (delivered < 2) await Bun.sleep(10);
    await page.locator('#call-title', { hasText: 'Call to +15551234002' }).waitFor();
    // The title is set from the held answers; what else they would change follows in the same turn.
    await Bun.sleep(300);
    const badge = await page.locator('#call-status').textContent();
    expect(badge).not.toBe(stale);
    expect(statuses.indexOf(badge!)).toBeGreaterThanOrEqual(statuses.indexOf(live!));
    // The event log holds what the stream brought as well, and ends with the status shown.
    const rows = await page.locator('#events-table tbody tr td:nth-child(3)').allTextContents();
    expect(rows.at(-1)).toBe(badge!);
    await page.unroute(/\/api\/v2\/calls\//);
    if (await page.locator('#hangup').isVisible())
      await page.getByRole('button', { name: 'Hang up' }).click();
    expect(errors).toEqual([]);
    await page.close();
  });

  test('a list answered before a newer live event shows the live status', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await logIn(page, admin);
    await page.locator('#calls-view').waitFor();
    // The first list that holds the new call is fetched at once but held back until the call has
    // moved on: it arrives stale.
    // A number of its own (ending 2: it rings for six seconds), to know the call in any list.
    const number = `+1555${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}2`;
    let stale = '';
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let delivered = false;
    await page.route(/\/api\/v2\/calls\?/, async (route: Route) => {
      const response = await route.fetch();
      const item = (
        (await response.json()) as { items: { phone_number: string; status: string }[] }
      ).items.find((c) => c.phone_number === number);
      if (!item || stale) return route.fulfill({ response });
      stale = item.status;
      await released;
      await route.fulfill({ response });
      delivered = true;
    });
    // Placed elsewhere: its `created` event makes the list load again.
    const placed = await stack.request('/api/v2/calls', {
      method: 'POST',
      token: admin.token,
      json: { phone_number: number },
    });
    expect(placed.status).toBe(200);
    const callId = ((await placed.json()) as { call_id: string }).call_id;
    while (!stale) await Bun.sleep(10);
    const order = ['pending', 'dialing', 'ringing', 'answered', 'no_answer'];
    let now = stale;
    while (order.indexOf(now) <= order.indexOf(stale)) {
      await Bun.sleep(50);
      const res = await stack.request(`/api/v2/calls/${callId}`, { token: admin.token });
      now = ((await res.json()) as { status: string }).status;
    }
    // Room for the stream to bring the new status to the page before the stale list lands.
    await Bun.sleep(500);
    release();
    while (!delivered) await Bun.sleep(10);
    const row = page.locator(`#calls-table tr[data-call-id="${callId}"]`);
    await row.waitFor();
    await Bun.sleep(300);
    const shown = await row.locator('.status').textContent();
    expect(shown).not.toBe(stale);
    expect(order.indexOf(shown!)).toBeGreaterThanOrEqual(order.indexOf(now));
    await page.unroute(/\/api\/v2\/calls\?/);
    await stack.request(`/api/v2/calls/${callId}/hangup`, { method: 'POST', token: admin.token });
    expect(errors).toEqual([]);
    await page.close();
  });

  test('a viewer sees calls but no originate form', async () => {
    const viewer = await stack.user('viewer');
    const page = await browser.newPage();
    await logIn(page, viewer);
    await page.locator('#calls-view').waitFor();
    await page.locator('#whoami', { hasText: 'viewer' }).waitFor();
    expect(await page.locator('#originate-form').count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Users' }).isVisible()).toBe(false);
    await page.close();
  });

  test('an admin adds a user and changes its role', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await logIn(page, admin);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.locator('#users-view').waitFor();
    const name = `clerk-${crypto.randomUUID().slice(0, 6)}`;
    await page.locator('#user-username').fill(name);
    await page.locator('#user-password').fill('a fine password');
    await page.locator('#user-role').selectOption('viewer');
    await page.getByRole('button', { name: 'Add user' }).click();
    const row = page.locator('#users-table tbody tr', { hasText: name });
    await row.waitFor();
    await row.getByLabel(`Role of ${name}`).selectOption('operator');
    await page.locator('#flash', { hasText: `${name} is now operator` }).waitFor();
    const res = await stack.request('/api/v2/users?limit=100', { token: admin.token });
    const users = ((await res.json()) as { items: { username: string; role: string }[] }).items;
    expect(users.find((u) => u.username === name)?.role).toBe('operator');
    await screenshot(page, 'console-users');
    await page.close();
  });

  test('works by keyboard alone and fits a phone-sized screen', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${stack.apiUrl}/console`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toContain('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('login-username');
    await page.keyboard.type(admin.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(admin.password);
    await page.keyboard.press('Enter');
    await page.locator('#calls-view').waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    // Every form control has a label.
    const unlabelled = await page.evaluate(() =>
      Array.from(document.querySelectorAll('input, select, textarea'))
        .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label'))
        .map((el) => el.id),
    );
    expect(unlabelled).toEqual([]);
    await screenshot(page, 'console-phone');
    await page.close();
  });
});
