import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser } from 'playwright-core';
import { collectPageErrors, launchBrowser, screenshot } from '../harness/browser.ts';
import { startTestStack, type TestStack } from '../harness/stack.ts';

let stack: TestStack;
let browser: Browser;

beforeAll(async () => {
  stack = await startTestStack();
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser.close();
  await stack.stop();
});

describe('the interactive reference at /docs', () => {
  test('lists every operation, logs in and sends a request', async () => {
    const admin = await stack.user('admin');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await page.goto(`${stack.api.url}/docs`);
    expect(await page.title()).toBe('Outdial API reference');
    expect(await page.locator('section.op').count()).toBeGreaterThanOrEqual(20);

    // The API guide shows beside the operations, its Markdown rendered: the route table, the
    // sections of the tags, the code of the webhook signature.
    const guide = page.locator('#guide');
    await guide.locator('h2', { hasText: 'Who may call what' }).waitFor();
    expect(await guide.locator('table tbody tr').count()).toBeGreaterThan(15);
    for (const heading of ['Statuses and outcomes', 'Signatures'])
      expect(await page.locator('main h3', { hasText: heading }).count()).toBe(1);
    expect(await page.locator('main pre', { hasText: 'Outdial-Signature: t=' }).count()).toBe(1);
    expect(await page.locator('main').textContent()).not.toContain('```');

    // Without a token a protected route answers 401, as the page says.
    const me = page.locator('section#get-api-v2-me');
    await me.locator('summary').click();
    await me.locator('button[type=submit]').click();
    await me.locator('.result pre', { hasText: '401' }).waitFor();

    await page.fill('#login-username', admin.username);
    await page.fill('#login-password', admin.password);
    await page.press('#login-password', 'Enter');
    await page.locator('#login-state', { hasText: 'Logged in' }).waitFor();

    await me.locator('button[type=submit]').click();
    await me.locator('.result pre', { hasText: '200 OK' }).waitFor();
    expect(await me.locator('.result pre').textContent()).toContain(admin.username);

    // A JSON body: place a call through the page.
    const create = page.locator('section#post-api-v2-calls');
    await create.locator('summary').click();
    await create.locator('textarea').fill('{"phone_number": "+15551234000"}');
    await create.locator('button[type=submit]').click();
    await create.locator('.result pre', { hasText: '200 OK' }).waitFor();
    expect(await create.locator('.result pre').textContent()).toContain('"status": "dialing"');
    expect(stack.sidecar.originates).toHaveLength(1);
    await screenshot(page, 'docs');
    // The only console noise allowed is the 401 the page was asked to show.
    expect(errors.filter((e) => !e.includes('status of 401'))).toEqual([]);
    await page.close();
  });

  test('is usable on a phone-sized screen and by keyboard', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${stack.api.url}/docs`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toContain('Skip to the reference');
    for (const id of ['login-username', 'login-password']) {
      expect(await page.locator(`label[for=${id}]`).count()).toBe(1);
    }
    await screenshot(page, 'docs-phone');
    await page.close();
  });
});
