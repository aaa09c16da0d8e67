import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { collectPageErrors, launchBrowser, screenshot } from '../harness/browser.ts';
import { startTestStack, type TestStack } from '../harness/stack.ts';

/**
 * The reference at /docs is Scalar over the API's own /openapi.json, its bundle served by the API
 * (no CDN) under a strict Content-Security-Policy: every operation and webhook listed, examples of
 * answers shown, a request sent from the page with a bearer token, and usable on a phone's screen and
 * by keyboard. A CSP violation or a failed load shows as a console error, and none is allowed.
 */

let stack: TestStack;
let browser: Browser;

interface Operation {
  summary?: string;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, Record<string, Operation>>;
}

beforeAll(async () => {
  stack = await startTestStack();
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser.close();
  await stack.stop();
});

/** A method as the sidebar shows it: DELETE is cut to DEL. */
const shownMethod = (method: string) => (method === 'delete' ? 'DEL' : method.toUpperCase());

/** "Place a call | POST" for each operation the sidebar lists. */
async function sidebarOperations(page: Page): Promise<string[]> {
  const sidebar = page.getByRole('navigation', { name: /Sidebar/ });
  const entries = sidebar.getByRole('button', { name: /HTTP Method:/ });
  await entries.first().waitFor();
  return (await entries.evaluateAll((els) => els.map((e) => e.textContent ?? '')))
    .map((text) =>
      text
        .replace(/\s+/g, ' ')
        .replace(/\s*HTTP Method: ?/, ' | ')
        .trim(),
    )
    .sort();
}

describe('the interactive reference at /docs', () => {
  test('lists every operation and webhook, shows examples and sends a request with a token', async () => {
    const admin = await stack.user('admin');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    const reply = await page.goto(`${stack.api.url}/docs`);
    expect(await page.title()).toBe('Outdial API reference');

    // Nothing from elsewhere: scripts from this origin (and the start-up script by its hash), requests to it only.
    const csp = reply?.headers()['content-security-policy'] ?? '';
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).not.toContain('http');
    const bundle = await page.request.get(`${stack.api.url}/docs/scalar.js`);
    expect(bundle.status()).toBe(200);
    expect(bundle.headers()['content-type']).toContain('javascript');

    // Every operation of the document, and every webhook, in the sidebar.
    const doc = (await (await fetch(`${stack.api.url}/openapi.json`)).json()) as Doc;
    const expected = [...Object.values(doc.paths), ...Object.values(doc.webhooks)]
      .flatMap((ops) => Object.entries(ops).map(([method, op]) => `${op.summary} | ${shownMethod(method)}`))
      .sort();
    expect(expected.length).toBeGreaterThan(45);
    expect(await sidebarOperations(page)).toEqual(expected);

    // An operation shows its answer's example, and each error's, the 422 naming the field.
    const getCall = page.locator('[id="api-1/tag/calls/GET/api/v2/calls/{call_id}"]');
    await getCall.scrollIntoViewIfNeeded();
    await getCall.getByText('"status"').first().waitFor();
    expect(await getCall.textContent()).toContain('"dialing"');
    await getCall.getByRole('tab', { name: 'Status: 422' }).click();
    await getCall.getByText('"body.phone_number"').first().waitFor();

    // A webhook shows its body, and how to check its signature.
    const webhook = page.locator('[id="api-1/tag/webhooks/webhook/POST/callstatus"]');
    await webhook.scrollIntoViewIfNeeded();
    expect(await webhook.textContent()).toContain('outdial-webhook-v1.<t>.<raw body>');

    // A token from POST /api/v2/token as the bearer token, then "Test Request" sends from the page.
    await page.getByRole('textbox', { name: 'Bearer Token' }).first().fill(admin.token);
    const me = page.locator('[id="api-1/tag/auth/GET/api/v2/me"]');
    await me.scrollIntoViewIfNeeded();
    await me.getByRole('button', { name: /Test Request/ }).click();
    const client = page.getByRole('dialog');
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/v2/me'));
    await client.getByRole('button', { name: /^Send get request/ }).click();
    expect((await answered).status()).toBe(200);
    await client.getByText('200 OK').waitFor();
    await client.getByText(`"${admin.username}"`).waitFor();
    await screenshot(page, 'docs');
    await page.keyboard.press('Escape');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  test('is usable on a phone-sized screen and by keyboard', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const errors = collectPageErrors(page);
    await page.goto(`${stack.api.url}/docs`);
    await page.getByRole('heading', { name: 'Outdial API', exact: true }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, 'docs-phone');

    // By keyboard alone: open the menu, search, and go to an operation.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: /Sidebar/ }).waitFor();
    await page.keyboard.press('Control+k');
    await page.keyboard.type('Hang up or cancel');
    await page
      .getByRole('option', { name: /Hang up or cancel a call/ })
      .first()
      .waitFor();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForURL(/hangup/);
    const hangup = page.locator('[id="api-1/tag/calls/POST/api/v2/calls/{call_id}/hangup"]');
    await hangup.getByRole('heading', { name: 'Hang up or cancel a call' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, 'docs-phone-operation');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
