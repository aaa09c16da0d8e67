import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page, Route } from 'playwright-core';
import { FLOW_EXAMPLE } from '../../api/shared/contract/index.ts';
import { collectPageErrors, launchBrowser, POLLED, screenshot } from '../harness/browser.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';

/**
 * A call's flow in the console, through the real API, sidecar and simulator: the steps run shown
 * live, how the flow ended, its answers, and a player for its recording fetched with the token.
 */

let stack: E2EStack;
let browser: Browser;
let operator: TestUser;
let viewer: TestUser;
/** The call the first test places with the example flow, for the tests after it. */
let flowCall = '';

/** The path +15557771 takes through the example flow: it presses 1, so it plays, asks, branches to the message, records, hangs up. */
const PATH = ['play', 'gather', 'branch', 'record', 'hangup'];

beforeAll(async () => {
  stack = await startE2EStack({ sim: { timeScale: 0.2 } });
  browser = await launchBrowser();
  operator = await stack.user('operator');
  viewer = await stack.user('viewer');
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

async function openCall(page: Page, callId: string) {
  await page.evaluate((id) => {
    location.hash = `#/calls/${id}`;
  }, callId);
}

/** The verbs of the steps run, as the page lists them. */
const shownPath = (page: Page) =>
  page.locator('#flow-path li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.verb));

/** The recordings' audio each page received: what the API sent it with. */
const audioAnswers = new WeakMap<Page, { url: string; type: string }[]>();

/** A new page that keeps what the API answered for recordings' audio (see `playable`). */
async function newPage(viewport: { width: number; height: number }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  const answers: { url: string; type: string }[] = [];
  audioAnswers.set(page, answers);
  page.on('response', (r) => {
    if (!/\/recordings\/[^/]+$/.test(new URL(r.url()).pathname) || r.status() !== 200) return;
    answers.push({ url: r.url(), type: r.headers()['content-type'] ?? '' });
  });
  return page;
}

/**
 * Waits until the recording's player plays a blob: URL whose audio has a length; its src and
 * duration, and the type the API sent the audio with (the page's CSP keeps even the test
 * from fetching its blob: URLs, so the answer is read as it arrived).
 */
async function playable(page: Page, name: string) {
  await page.locator(`#flow-recordings li[data-name="${name}"] audio`).waitFor();
  const player = await page.waitForFunction(
    (n) => {
      const a = document.querySelector<HTMLAudioElement>(`#flow-recordings li[data-name="${n}"] audio`);
      return a?.src.startsWith('blob:') && a.readyState >= 1 && a.duration > 0
        ? { src: a.src, duration: a.duration }
        : null;
    },
    name,
    { ...POLLED, timeout: 10_000 },
  );
  const { src, duration } = (await player.jsonValue())!;
  let answer = audioAnswers.get(page)!.findLast((a) => a.url.endsWith(`/recordings/${name}`));
  for (let i = 0; i < 100 && !answer; i++) {
    await Bun.sleep(20);
    answer = audioAnswers.get(page)!.findLast((a) => a.url.endsWith(`/recordings/${name}`));
  }
  return { src, duration, type: answer?.type };
}

/** Every control on screen smaller than 44 px either way (the audio player counts as one). */
function smallControls(page: Page) {
  return page.evaluate(() =>
    Array.from(
      document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, summary, audio'),
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

describe('a call’s flow in the console', () => {
  test('the example flow placed from the console: its path live, its end, answers and recording', async () => {
    const page = await newPage({ width: 1280, height: 900 });
    const errors = collectPageErrors(page);
    await logIn(page, operator);
    // Every change to the path, with the call's status at that moment: the steps must come while
    // the call is still up, from the live stream, not only with the page's reload when it ends.
    await page.evaluate(() => {
      const seen: { steps: number; status: string }[] = [];
      (window as unknown as { pathSeen: typeof seen }).pathSeen = seen;
      new MutationObserver(() =>
        seen.push({
          steps: document.querySelectorAll('#flow-path li').length,
          status: document.getElementById('call-status')?.textContent ?? '',
        }),
      ).observe(document.getElementById('flow-path')!, { childList: true });
    });
    const form = page.locator('#originate-form');
    await form.getByLabel('Phone number').fill('+15557771');
    await form.getByLabel('Flow (optional)').fill(JSON.stringify(FLOW_EXAMPLE, null, 2));
    await screenshot(page, 'console-flow-form');
    await page.getByRole('button', { name: 'Call' }).click();
    await page.locator('#call-view').waitFor();
    flowCall = /#\/calls\/(.+)$/.exec(page.url())![1]!;
    const section = page.locator('#call-flow');
    await section.waitFor();
    await page.locator('#flow-path li[data-verb="gather"]', { hasText: 'choice = 1' }).waitFor({
      timeout: 15_000,
    });
    await page.locator('#flow-end', { hasText: 'Finished at step 5 (bye)' }).waitFor({ timeout: 15_000 });
    expect(await shownPath(page)).toEqual(PATH);
    const seen = await page.evaluate(
      () => (window as unknown as { pathSeen: { steps: number; status: string }[] }).pathSeen,
    );
    expect(seen.some((s) => s.steps > 0 && s.steps < PATH.length && s.status === 'answered')).toBe(true);
    // The path, step by step: the record step gave the message, the branch went to it.
    const steps = await page.locator('#flow-path li').allTextContents();
    expect(steps[1]).toContain('“ask”');
    expect(steps[3]).toMatch(/record step 4 “msg” — message = a recording of (\d+ ms|\d+\.\d s)/);
    expect(steps[4]).toContain('“bye”');
    // The answers, as a definition list.
    const answers = await page
      .locator('#flow-answers')
      .evaluate((dl) => Array.from(dl.children).map((el) => el.textContent));
    expect(answers.slice(0, 2)).toEqual(['choice', '1']);
    expect(answers[2]).toBe('message');
    expect(answers[3]).toMatch(/^a recording of (\d+ ms|\d+\.\d s)$/);
    // The player: the audio fetched with the token, played from a blob: URL.
    const audio = await playable(page, 'message');
    expect(audio.type).toBe('audio/wav');
    expect(audio.duration).toBeGreaterThan(0);
    const download = page.getByRole('link', { name: 'Download message (WAV)' });
    expect(await download.getAttribute('href')).toBe(audio.src);
    expect(await download.getAttribute('download')).toBe('message.wav');
    // The event log says the same in its details.
    await page.locator('#events-table tbody tr', { hasText: 'flow_ended' }).waitFor();
    await page.locator('#call-status', { hasText: 'completed' }).waitFor({ timeout: 15_000 });
    await section.scrollIntoViewIfNeeded();
    await screenshot(page, 'console-flow');
    // What the API says agrees with what the page shows.
    const call = (await (
      await stack.request(`/api/v2/calls/${flowCall}`, { token: operator.token })
    ).json()) as {
      answers: Record<string, unknown>;
      flow: { outcome: string; ended_at_step: { index: number; id: string } };
    };
    expect(call.answers.choice).toBe('1');
    expect(call.flow).toMatchObject({ outcome: 'finished', ended_at_step: { index: 4, id: 'bye' } });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  test('a viewer sees the same path, answers and player', async () => {
    expect(flowCall).not.toBe('');
    const page = await newPage({ width: 1280, height: 900 });
    const errors = collectPageErrors(page);
    await logIn(page, viewer);
    await openCall(page, flowCall);
    await page.locator('#flow-end', { hasText: 'Finished at step 5 (bye)' }).waitFor();
    expect(await shownPath(page)).toEqual(PATH);
    await page.locator('#flow-answers', { hasText: 'choice' }).waitFor();
    const audio = await playable(page, 'message');
    expect(audio.type).toBe('audio/wav');
    expect(await page.locator('#hangup').isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });

  test('switching calls leaves nothing of the flow before, and a late recording lands nowhere', async () => {
    expect(flowCall).not.toBe('');
    const placed = await stack.placeCall(operator, { phone_number: '+15551234000' });
    expect(placed.status).toBe(200);
    const plain = String(placed.body.call_id);
    const page = await newPage({ width: 1280, height: 900 });
    const errors = collectPageErrors(page);
    await logIn(page, operator);
    // The flow call's audio is held until another call is on screen.
    let held = false;
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let delivered = false;
    await page.route(`**/api/v2/calls/${flowCall}/recordings/message`, async (route: Route) => {
      const response = await route.fetch();
      held = true;
      await released;
      await route.fulfill({ response }).catch(() => undefined);
      delivered = true;
    });
    await openCall(page, flowCall);
    await page.locator('#flow-path li').first().waitFor();
    await page.locator('#flow-recordings li[data-name="message"]').waitFor();
    while (!held) await Bun.sleep(10);
    await openCall(page, plain);
    await page.locator('#call-details', { hasText: plain }).waitFor();
    release();
    while (!delivered) await Bun.sleep(10);
    await Bun.sleep(300);
    expect(await page.locator('#call-flow').isVisible()).toBe(false);
    expect(await page.locator('#flow-path li').count()).toBe(0);
    expect(await page.locator('#flow-answers dt').count()).toBe(0);
    expect(await page.locator('#flow-recordings li').count()).toBe(0);
    expect(await page.locator('audio').count()).toBe(0);
    expect(await page.locator('#flow-end').textContent()).not.toContain('bye');
    expect(await page.locator('#call-view').textContent()).not.toContain(flowCall);
    // Back to the flow call: all of it again, the player too.
    await page.unroute(`**/api/v2/calls/${flowCall}/recordings/message`);
    await openCall(page, flowCall);
    await page.locator('#flow-end', { hasText: 'Finished' }).waitFor();
    expect(await shownPath(page)).toEqual(PATH);
    expect((await playable(page, 'message')).type).toBe('audio/wav');
    expect(await page.locator('#flow-recordings li').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  test('a flow that is not JSON, or that the API refuses, says where, by keyboard alone', async () => {
    const page = await newPage({ width: 1280, height: 900 });
    await logIn(page, operator);
    const before = (await (
      await stack.request('/api/v2/calls?limit=100', { token: operator.token })
    ).json()) as {
      items: unknown[];
    };
    await page.locator('#originate-number').focus();
    await page.keyboard.type('+15557771');
    await page.locator('#originate-timeout').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('originate-flow');
    await page.keyboard.type('[{"verb": "play"');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Call');
    await page.keyboard.press('Enter');
    const alert = page.locator('#originate-error');
    await alert.filter({ hasText: 'The flow is not JSON' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('originate-flow');
    expect(await page.locator('#originate-flow').getAttribute('aria-invalid')).toBe('true');
    // Valid JSON, but the second step jumps to a step that does not exist.
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type(
      JSON.stringify([
        { verb: 'play', media: ['sound:hello-world'] },
        { verb: 'goto', to: 'nowhere' },
      ]),
    );
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    const field = alert.locator('.field-error', { hasText: 'Flow step 2 › to' });
    await field.waitFor();
    expect(await field.textContent()).toContain('nowhere');
    expect(await alert.textContent()).not.toContain('body.flow');
    expect(await alert.getAttribute('role')).toBe('alert');
    expect(await page.locator('#originate-flow').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#calls-view').isVisible()).toBe(true);
    await screenshot(page, 'console-flow-refused');
    // Refused means nothing placed.
    const after = (await (
      await stack.request('/api/v2/calls?limit=100', { token: operator.token })
    ).json()) as {
      items: unknown[];
    };
    expect(after.items.length).toBe(before.items.length);
    await page.close();
  });

  test('on a phone the flow section fits, and its player and link are 44 px and reachable by keyboard', async () => {
    expect(flowCall).not.toBe('');
    const page = await newPage({ width: 390, height: 844 });
    await logIn(page, operator);
    expect(await smallControls(page)).toEqual([]);
    await openCall(page, flowCall);
    await playable(page, 'message');
    expect(await smallControls(page)).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // Tab reaches the player, then its download link.
    const reached: string[] = [];
    for (let i = 0; i < 40 && !reached.includes('a Download message (WAV)'); i++) {
      await page.keyboard.press('Tab');
      reached.push(
        await page.evaluate(
          () =>
            `${document.activeElement?.tagName.toLowerCase()} ${document.activeElement?.textContent?.trim()}`,
        ),
      );
    }
    const player = reached.findIndex((r) => r.startsWith('audio'));
    expect(player).toBeGreaterThanOrEqual(0);
    expect(reached.indexOf('a Download message (WAV)')).toBeGreaterThan(player);
    await page.locator('#call-flow').scrollIntoViewIfNeeded();
    await screenshot(page, 'console-flow-phone');
    await page.close();
  });
});
