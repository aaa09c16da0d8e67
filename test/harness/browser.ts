import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's Chromium, driven by playwright-core (Playwright cannot download browsers here). */
export function chromiumPath(): string {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && existsSync(p)) return p;
  }
  throw new Error('Chromium not found: apt-get install -y chromium (npm test does this when it may)');
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export const ARTIFACTS = join(import.meta.dir, '..', 'artifacts');

/** Saves a screenshot under test/artifacts/ (kept by CI as a test artifact). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** Collects console errors and uncaught exceptions of a page, so a test can assert there were none. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

/**
 * Options for every `page.waitForFunction`: polled on a timer. Its default polls on
 * requestAnimationFrame, which a headless Chromium on a busy machine may not run for longer than a
 * test lasts: the wait then outlives the test with nothing wrong on the page (and the runner,
 * stopping the test, kills the browser every later test of the file needs).
 */
export const POLLED = { polling: 50 } as const;
