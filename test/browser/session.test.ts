import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { collectPageErrors, launchBrowser, POLLED, screenshot } from '../harness/browser.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';

/**
 * The console keeps a person logged in with the refresh token: access tokens live one minute here
 * (the shortest the configuration allows), so the console must refresh to stay in.
 */

let stack: E2EStack;
let browser: Browser;
let admin: TestUser;

const TOKEN = 'outdial.console.token';
const REFRESH = 'outdial.console.refresh';

beforeAll(async () => {
  stack = await startE2EStack({ apiEnv: { ACCESS_TOKEN_EXPIRE_MINUTES: '1' } });
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
  await page.locator('#calls-view').waitFor();
}

const stored = (page: Page, key: string) => page.evaluate((k) => sessionStorage.getItem(k), key);

async function meStatus(token: string | null): Promise<number> {
  return (await stack.request('/api/v2/me', { token: token ?? '' })).status;
}

function refreshWith(refreshToken: string | null): Promise<Response> {
  return fetch(`${stack.apiUrl}/api/v2/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken ?? '' }),
  });
}

describe('the console session', () => {
  test('stays logged in across an access token expiry: it refreshes before, and the old token is then refused', async () => {
    const page = await browser.newPage();
    const errors = collectPageErrors(page);
    await logIn(page, admin);
    const first = await stored(page, TOKEN);
    const loggedInAt = Date.now();
    // The timer refreshes a fifth of the minute early.
    await page.waitForFunction((k) => sessionStorage.getItem(k) !== null, TOKEN, POLLED);
    await page.waitForFunction(([k, old]) => sessionStorage.getItem(k!) !== old, [TOKEN, first] as const, {
      ...POLLED,
      timeout: 70_000,
    });
    const second = await stored(page, TOKEN);
    expect(await meStatus(second)).toBe(200);
    // Past the first token's expiry (and the verifier's 5 s of clock tolerance).
    await Bun.sleep(Math.max(0, loggedInAt + 67_000 - Date.now()));
    expect(await meStatus(first)).toBe(401);
    await page.reload();
    await page.locator('#calls-view').waitFor();
    expect(await page.locator('#login-view').isVisible()).toBe(false);
    await page.locator('#whoami', { hasText: admin.username }).waitFor();
    await screenshot(page, 'console-session-refreshed');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  test('a request refused 401 is refreshed once and sent again; a refresh token someone else spent signs out', async () => {
    const page = await browser.newPage();
    await logIn(page, admin);
    // An access token the API refuses: the console refreshes and carries on.
    await page.evaluate((k) => sessionStorage.setItem(k, 'not-a-token'), TOKEN);
    await page.reload();
    await page.locator('#whoami', { hasText: admin.username }).waitFor();
    const renewed = await stored(page, TOKEN);
    expect(renewed).not.toBe('not-a-token');
    expect(await meStatus(renewed)).toBe(200);

    // Someone else uses the tab's refresh token first: the console's own refresh is then reuse,
    // which ends the session for both, and the console asks to log in again.
    const refreshToken = await stored(page, REFRESH);
    const theft = await refreshWith(refreshToken);
    expect(theft.status).toBe(200);
    const stolen = (await theft.json()) as { access_token: string };
    await page.evaluate((k) => sessionStorage.setItem(k, 'not-a-token'), TOKEN);
    await page.reload();
    await page.locator('#login-view').waitFor();
    await page.getByText('Your session ended').waitFor();
    expect(await stored(page, REFRESH)).toBeNull();
    expect(await meStatus(stolen.access_token)).toBe(401);
    expect(await meStatus(renewed)).toBe(401);
    await page.close();
  }, 60_000);

  test('logging out ends the session: the refresh token the tab held is refused', async () => {
    const page = await browser.newPage();
    await logIn(page, admin);
    const refreshToken = await stored(page, REFRESH);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#login-view').waitFor();
    expect(await stored(page, REFRESH)).toBeNull();
    const res = await refreshWith(refreshToken);
    expect(res.status).toBe(401);
    await page.close();
  }, 60_000);
});
