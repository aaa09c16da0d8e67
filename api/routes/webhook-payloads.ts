import { z } from '@hono/zod-openapi';
import { CallWebhookSchema } from '../calls/bodies.ts';
import { CampaignWebhookSchema } from '../campaigns/bodies.ts';
import {
  CAMPAIGN_COUNTERS,
  CAMPAIGN_WEBHOOK_KINDS,
  type CampaignWebhook,
  WEBHOOK_KINDS,
} from '../shared/contract/index.ts';
import {
  SIGNATURE_CONTEXT,
  SIGNATURE_HEADER,
  SIGNATURE_TOLERANCE_SECONDS,
} from '../shared/contract/webhook-signature.ts';
import type { App } from './openapi.ts';

/**
 * The webhooks this API sends, in the document's `webhooks` section (OpenAPI 3.1): each body's
 * schema (the one the sender builds it by), the headers every delivery carries and how to verify
 * its signature. The Webhooks tag's guide says when they are sent and how they are retried.
 */

/** How a receiver checks a delivery: one text, for the header and every webhook. */
const SIGNATURE_SCHEME =
  `\`${SIGNATURE_HEADER}: t=<unix seconds>,kid=<key id>,v1=<signature>\`: an Ed25519 signature ` +
  `(base64url, no padding) over the bytes \`${SIGNATURE_CONTEXT}.<t>.<raw body>\`, made with the API's ` +
  'signing key. Verify it with the public key of that `kid` in `/.well-known/jwks.json` (no shared secret: ' +
  'the keys are public and rotate by `kid`), over the body exactly as received, before parsing it; refuse ' +
  `a \`t\` more than ${SIGNATURE_TOLERANCE_SECONDS} seconds from your clock, so a recorded delivery cannot ` +
  'be replayed later. `verifyWebhook` in `api/webhooks/signature.ts` does all of this with WebCrypto.';

const signature = z.string().openapi({
  description: 'The Ed25519 signature of `t` and the raw body: how to check it is in the description above',
  example: 't=1795449478,kid=Jx3v9QpL0fT2,v1=q2Xo7VZc…',
});
const deliveryId = z.string().openapi({
  description: 'The delivery: the same on each retry of it, so a receiver can drop one it already handled',
  example: '17',
});
const attempt = z.string().openapi({ description: 'Which attempt this is: 1, 2, …', example: '1' });

const CallWebhookHeaders = z.object({
  [SIGNATURE_HEADER]: signature,
  'Outdial-Delivery-Id': deliveryId,
  'Outdial-Event-Id': z.string().openapi({ description: 'The event reported (`event_id`)', example: '1042' }),
  'Outdial-Attempt': attempt,
});
const CampaignWebhookHeaders = z.object({
  [SIGNATURE_HEADER]: signature,
  'Outdial-Delivery-Id': deliveryId,
  'Outdial-Campaign-Id': z.string().openapi({
    description: 'The campaign reported (`campaign_id`)',
    example: '3c1a9e4f-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
  }),
  'Outdial-Attempt': attempt,
});

const RECEIVER_ANSWERS = {
  200: { description: 'Any 2xx answer ends the delivery; its body is ignored' },
  default: {
    description:
      'Anything else (another status, a redirect, which is never followed, or no answer within ' +
      'WEBHOOK_TIMEOUT_MS) is retried with backoff until WEBHOOK_MAX_ATTEMPTS or WEBHOOK_MAX_AGE',
  },
};

const counters = Object.fromEntries(CAMPAIGN_COUNTERS.map((name) => [name, 0]));
const campaignExample = (
  type: CampaignWebhook['type'],
  extra: Partial<CampaignWebhook>,
): CampaignWebhook => ({
  type,
  campaign_id: '3c1a9e4f-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
  state: 'running',
  counters: { ...counters, total: 200, pending: 120, in_progress: 12, done: 68, attempts: 85 },
  at: '2026-11-23T15:24:00.000Z',
  ...extra,
});

export function registerWebhookPayloads(app: App) {
  const calls = [
    [
      WEBHOOK_KINDS.status,
      'A call’s status changed',
      'Sent for every change of status (or those in `status_callback_events`).',
    ],
    [
      WEBHOOK_KINDS.flow,
      'A step of a call’s flow',
      'Sent for the flow event types `status_callback_events` lists (`step_started`, `step_finished`, ' +
        '`flow_ended`); the step is in `event.flow`.',
    ],
  ] as const;
  for (const [name, summary, when] of calls)
    app.openAPIRegistry.registerWebhook({
      method: 'post',
      path: name,
      summary,
      tags: ['Webhooks'],
      description: `POSTed to the call’s \`status_callback\`. ${when}\n\n${SIGNATURE_SCHEME}`,
      request: {
        headers: CallWebhookHeaders,
        body: { required: true, content: { 'application/json': { schema: CallWebhookSchema } } },
      },
      responses: RECEIVER_ANSWERS,
    });

  const campaigns = [
    [
      CAMPAIGN_WEBHOOK_KINDS.state,
      'A campaign’s state changed',
      'Sent when the campaign starts, pauses, resumes, completes or is canceled; `previous_state` says from what.',
      campaignExample(CAMPAIGN_WEBHOOK_KINDS.state, { previous_state: 'paused' }),
    ],
    [
      CAMPAIGN_WEBHOOK_KINDS.progress,
      'A campaign’s counters moved',
      'Sent at most once per campaign per CAMPAIGN_PROGRESS_WEBHOOK_SECONDS while its counters move, and a ' +
        'last time when it completes.',
      campaignExample(CAMPAIGN_WEBHOOK_KINDS.progress, {}),
    ],
  ] as const;
  for (const [name, summary, when, example] of campaigns)
    app.openAPIRegistry.registerWebhook({
      method: 'post',
      path: name,
      summary,
      tags: ['Webhooks'],
      description: `POSTed to the campaign’s \`status_callback\`. ${when}\n\n${SIGNATURE_SCHEME}`,
      request: {
        headers: CampaignWebhookHeaders,
        body: { required: true, content: { 'application/json': { schema: CampaignWebhookSchema, example } } },
      },
      responses: RECEIVER_ANSWERS,
    });
}
