/**
 * The database's tables, one module per concern under db/schema/ (imports point one way: users ←
 * calls, flows, campaigns ← webhooks). drizzle-kit reads this file; code imports tables from here.
 */
export * from './schema/calls.ts';
export * from './schema/campaigns.ts';
export * from './schema/flows.ts';
export * from './schema/users.ts';
export * from './schema/webhooks.ts';

import { callEvents, callRecordings, calls, idempotencyKeys, sidecars } from './schema/calls.ts';
import {
  campaignAttempts,
  campaignContacts,
  campaignCounters,
  campaigns,
  dncNumbers,
} from './schema/campaigns.ts';
import { flows, flowVersions } from './schema/flows.ts';
import {
  apiKeys,
  auditLog,
  liveStreams,
  loginThrottle,
  rateLimits,
  refreshTokens,
  revokedTokens,
  usedJtis,
  users,
} from './schema/users.ts';
import { webhookAttempts, webhookDeliveries } from './schema/webhooks.ts';

export const schema = {
  users,
  calls,
  callEvents,
  idempotencyKeys,
  revokedTokens,
  refreshTokens,
  usedJtis,
  auditLog,
  apiKeys,
  sidecars,
  loginThrottle,
  rateLimits,
  webhookDeliveries,
  webhookAttempts,
  liveStreams,
  flows,
  flowVersions,
  callRecordings,
  campaigns,
  campaignContacts,
  campaignAttempts,
  campaignCounters,
  dncNumbers,
};
