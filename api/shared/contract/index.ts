/**
 * The contract between the API and the sidecar: what both sides mean by a call's status, reason and
 * events, the signed channel's messages, the id rules and problem details. Pure TypeScript and zod;
 * it imports nothing of either side.
 */
export * from './campaign.ts';
export * from './channel.ts';
export * from './commands.ts';
export * from './events.ts';
export * from './flow.ts';
export * from './flow-check.ts';
export * from './ids.ts';
export * from './problem.ts';
export * from './reasons.ts';
export * from './scopes.ts';
export * from './statuses.ts';
export * from './variables.ts';
export * from './webhooks.ts';
