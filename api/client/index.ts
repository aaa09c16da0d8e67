/**
 * @outdial/client: the typed client (client.ts) and the helpers for the long paths: every page of a
 * list (pages.ts), the live stream with resume (stream.ts), placing and following a call (calls.ts),
 * and webhook signatures (webhooks.ts). Built into a package by `npm run client:build`.
 */
export * from './calls.ts';
export * from './client.ts';
export * from './pages.ts';
export * from './stream.ts';
export * from './webhooks.ts';
