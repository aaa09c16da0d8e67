import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { eq } from 'drizzle-orm';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import {
  API_FLOW_REQUESTS_PATH,
  type FlowRequest,
  FlowRequestReply,
  TYP_EVENTS,
} from '../../api/shared/contract/index.ts';
import { verifyWebhook } from '../../api/webhooks/signature.ts';
import { calls } from '../../db/schema.ts';
import { expectProblem, startTestStack, type TestStack, type TestUser, test } from '../harness/stack.ts';

/**
 * A flow's request step run by the API for the sidecar: the answers posted to the client's URL,
 * signed as webhooks are, the steps it returns checked; whatever the client does, an error in words
 * and never a 5xx; only the call's own sidecar may ask, with a message signed for this.
 */

let stack: TestStack;
let op: TestUser;
/** What the client answers next, and what it received. */
let answer: (req: Request) => Response | Promise<Response> = () => Response.json({ steps: [] });
const received: Array<{ headers: Headers; body: string }> = [];
let client: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  client = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      received.push({ headers: req.headers, body: await req.clone().text() });
      return answer(req);
    },
  });
  stack = await startTestStack({ env: { WEBHOOK_ALLOW_LOOPBACK: 'true' } });
  op = await stack.user('operator');
}, 60_000);
afterAll(async () => {
  await stack.stop();
  client.stop(true);
});

const clientUrl = (path = '/next') => `http://127.0.0.1:${client.port}${path}`;

async function callWithFlow(flow: unknown[]): Promise<string> {
  const res = await stack.request('http', '/api/v2/calls', {
    token: op.token,
    json: { phone_number: '5551234000' },
  });
  const id = ((await res.json()) as { call_id: string }).call_id;
  await stack.database.db.update(calls).set({ flow }).where(eq(calls.id, id));
  return id;
}

const FLOW = (url: string, timeout_ms = 1000) => [
  { id: 'ask', verb: 'gather', name: 'choice', max_digits: 1 },
  { id: 'hook', verb: 'request', url, timeout_ms, on_error: 'bye' },
  { id: 'bye', verb: 'hangup' },
];

const request = (callId: string, extra: Partial<FlowRequest> = {}): FlowRequest => ({
  call_id: callId,
  run: 2,
  segment: 0,
  step: 1,
  step_id: 'hook',
  answers: { choice: '1' },
  answered_by: 'human',
  ...extra,
});

async function ask(req: FlowRequest) {
  const res = await stack.sidecar.sendFlowRequest(stack.url, req);
  expect(res.status).toBe(200);
  return FlowRequestReply.parse(await res.json());
}

describe('flow request steps', () => {
  test('the answers go to the URL of the call’s flow, signed; the steps it returns come back', async () => {
    const id = await callWithFlow(FLOW(clientUrl('/from-flow')));
    const steps = [{ verb: 'play', media: ['sound:thanks'] }, { verb: 'hangup' }];
    answer = () => Response.json({ steps });
    received.length = 0;
    // The sidecar's own url is ignored for the call's flow.
    const reply = await ask(request(id, { url: clientUrl('/from-sidecar') }));
    expect(reply).toEqual({
      outcome: 'steps',
      steps: [
        { verb: 'play', media: ['sound:thanks'] },
        { verb: 'hangup', cause: 16 },
      ],
    });
    expect(received).toHaveLength(1);
    const hook = received[0]!;
    expect(JSON.parse(hook.body)).toMatchObject({
      type: 'flow.request',
      call_id: id,
      step_id: 'hook',
      answers: { choice: '1' },
      answered_by: 'human',
    });
    const { keys } = (await (await fetch(`${stack.url}/.well-known/jwks.json`)).json()) as { keys: never[] };
    const verified = await verifyWebhook({
      header: hook.headers.get('outdial-signature'),
      body: hook.body,
      keys,
    });
    expect(verified.ok).toBe(true);
  });

  test('steps a request returned (segment > 0) go to the URL the sidecar sends; without one, 422', async () => {
    const id = await callWithFlow(FLOW(clientUrl()));
    answer = (req) =>
      new URL(req.url).pathname === '/second'
        ? Response.json({ steps: [{ verb: 'hangup' }] })
        : new Response('', { status: 500 });
    expect(await ask(request(id, { segment: 1, step: 0, url: clientUrl('/second') }))).toEqual({
      outcome: 'steps',
      steps: [{ verb: 'hangup', cause: 16 }],
    });
    const res = await stack.sidecar.sendFlowRequest(stack.url, request(id, { segment: 1, step: 0 }));
    const problem = await expectProblem(res, 422, 'validation_error');
    expect(problem.detail).toContain('body.url');
  });

  test('a hostile client: refused, redirects, too much, not JSON, invalid steps, too slow — each an error in words', async () => {
    const id = await callWithFlow(FLOW(clientUrl(), 600));
    const cases: Array<[string, () => Response | Promise<Response>, RegExp]> = [
      ['500', () => new Response('no', { status: 500 }), /answered 500/],
      [
        'redirect',
        () => new Response(null, { status: 302, headers: { Location: 'http://169.254.169.254/' } }),
        /redirect/,
      ],
      [
        'huge',
        () => new Response('x'.repeat(200_000), { headers: { 'Content-Type': 'application/json' } }),
        /larger than/,
      ],
      ['not JSON', () => new Response('<html>hi</html>'), /not JSON/],
      ['invalid steps', () => Response.json({ steps: [{ verb: 'dial', number: '911' }] }), /no valid steps/],
      ['no steps', () => Response.json({ next: 'x' }), /no valid steps/],
      [
        'a jump to a missing step',
        () => Response.json({ steps: [{ verb: 'goto', to: 'nowhere' }] }),
        /do not run: \/steps\/0\/to/,
      ],
      [
        'a loop that never waits',
        () =>
          Response.json({
            steps: [
              { id: 'a', verb: 'set', name: 'x', value: '1' },
              { verb: 'goto', to: 'a' },
            ],
          }),
        /do not run/,
      ],
      [
        'slow',
        async () => {
          await Bun.sleep(3000);
          return Response.json({ steps: [{ verb: 'hangup' }] });
        },
        /no answer within 600 ms/,
      ],
      [
        'endless',
        () =>
          new Response(
            new ReadableStream({
              async pull(c) {
                await Bun.sleep(50);
                c.enqueue(new TextEncoder().encode('[1,'));
              },
            }),
          ),
        /no answer within 600 ms|larger than/,
      ],
    ];
    for (const [name, respond, why] of cases) {
      answer = respond;
      const reply = await ask(request(id));
      expect([name, reply.outcome]).toEqual([name, 'error']);
      if (reply.outcome === 'error') {
        expect([name, reply.detail]).toEqual([name, expect.stringMatching(why)]);
        expect(reply.detail).not.toMatch(/Invalid input|expected|received|at \w+ \(/);
      }
    }
  }, 30_000);

  test('a URL the webhook rules refuse is an error, and nothing is sent', async () => {
    const id = await callWithFlow(FLOW('https://10.0.0.1/next'));
    received.length = 0;
    const reply = await ask(request(id));
    expect(reply.outcome).toBe('error');
    if (reply.outcome === 'error') expect(reply.detail).toMatch(/refused/);
    expect(received).toHaveLength(0);
  });

  test('not a request step, a call without a flow, another sidecar’s call: refused, nothing sent', async () => {
    const id = await callWithFlow(FLOW(clientUrl()));
    received.length = 0;
    const notRequest = await stack.sidecar.sendFlowRequest(stack.url, request(id, { step: 0 }));
    expect((await expectProblem(notRequest, 422, 'validation_error')).detail).toContain('body.step');
    const plain = await callWithFlow([]);
    await stack.database.db.update(calls).set({ flow: null }).where(eq(calls.id, plain));
    await expectProblem(
      await stack.sidecar.sendFlowRequest(stack.url, request(plain)),
      422,
      'validation_error',
    );
    await stack.database.db.update(calls).set({ sidecarId: 'another-sidecar' }).where(eq(calls.id, id));
    await expectProblem(await stack.sidecar.sendFlowRequest(stack.url, request(id)), 404, 'call_not_found');
    expect(received).toHaveLength(0);
  });

  test('unsigned, signed as an event batch, replayed, or tampered: 401', async () => {
    const id = await callWithFlow(FLOW(clientUrl()));
    answer = () => Response.json({ steps: [{ verb: 'hangup' }] });
    received.length = 0;
    const body = JSON.stringify(request(id));
    const unsigned = await fetch(`${stack.url}${API_FLOW_REQUESTS_PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    await expectProblem(unsigned, 401, 'invalid_signature');
    const asEvents = await signChannelMessage({
      key: stack.sidecar.key,
      issuer: `sidecar:${stack.sidecar.id}`,
      audience: stack.config.JWT_ISSUER,
      typ: TYP_EVENTS,
      method: 'POST',
      path: API_FLOW_REQUESTS_PATH,
      body,
    });
    await expectProblem(
      await stack.sidecar.sendFlowRequest(stack.url, request(id), { token: asEvents }),
      401,
    );
    const token = await signChannelMessage({
      key: stack.sidecar.key,
      issuer: `sidecar:${stack.sidecar.id}`,
      audience: stack.config.JWT_ISSUER,
      typ: 'outdial-flow-request+jwt',
      method: 'POST',
      path: API_FLOW_REQUESTS_PATH,
      body,
    });
    expect((await stack.sidecar.sendFlowRequest(stack.url, request(id), { token })).status).toBe(200);
    await expectProblem(await stack.sidecar.sendFlowRequest(stack.url, request(id), { token }), 401);
    const tampered = await stack.sidecar.sendFlowRequest(stack.url, request(id), {
      tamperedBody: JSON.stringify(request(id, { answers: { choice: '9' } })),
    });
    await expectProblem(tampered, 401);
    expect(received).toHaveLength(1);
  });
});
