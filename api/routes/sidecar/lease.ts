import { createRoute } from '@hono/zod-openapi';
import { touchSidecar } from '../../../db/queries/misc.ts';
import { leaseForSidecar } from '../../campaigns/engine/lease.ts';
import { API_LEASE_PATH, LeaseReply, LeaseRequest, TYP_LEASE } from '../../shared/contract/index.ts';
import { type App, errorResponses } from '../openapi.ts';
import { jsonOnly, signedBody, signedBySidecar } from './signed.ts';

export const sidecarLeaseRoute = createRoute({
  method: 'post',
  path: API_LEASE_PATH,
  tags: ['Sidecar'],
  summary: 'Lease due campaign attempts to a sidecar',
  description:
    'Internal: a sidecar with free capacity asks for due campaign attempts. The message must be signed by ' +
    'the sidecar’s Ed25519 key (typ outdial-lease+jwt, single-use). In one transaction the API leases up to ' +
    '`capacity` due contacts of running campaigns (their pacing and concurrency respected, do-not-call ' +
    'numbers skipped, contacts outside their calling window moved to its next opening), gives each attempt ' +
    'its call id, and answers with the originate commands the sidecar runs as if the API had sent them, and ' +
    'when to ask again.',
  security: [{ sidecarSignature: [] }],
  request: { body: { required: true, content: { 'application/json': { schema: LeaseRequest } } } },
  responses: {
    200: {
      description: 'The originate commands of the leased attempts, and when to ask again',
      content: {
        'application/json': {
          schema: LeaseReply,
          example: {
            commands: [
              {
                call_id: '5b0f8a52-3c1e-4d7a-9f2b-6e8d1c4a7b90',
                phone_number: '+15551234000',
                context: 'outbound-ivr',
                extension: 's',
                priority: 1,
                timeout_ms: 30000,
                caller_id: 'Clinic <5550001111>',
                variables: { CAMPAIGN: 'reminders' },
                requested_at: '2026-11-02T09:30:00.000Z',
              },
            ],
            next_poll_ms: 1000,
          },
        },
      },
    },
    ...errorResponses(400, 401, 413, 415, 422, 500, 503),
  },
});

const signed = signedBySidecar(TYP_LEASE);

// The body is verified as raw bytes before it is parsed, so the route is documented through the
// registry but handled without zod-openapi's body validator.
export const registerSidecarLease = (app: App) => {
  app.openAPIRegistry.registerPath(sidecarLeaseRoute);
  app.post(API_LEASE_PATH, jsonOnly, signed, async (c) => {
    const services = c.get('services');
    const { body: lease, sidecarId } = signedBody(c, LeaseRequest);
    // Heard from before leases expire: a sidecar back after a long silence keeps the calls it has up.
    await touchSidecar(services.db, sidecarId).catch(() => undefined);
    const reply = await leaseForSidecar(services, lease);
    return c.json(LeaseReply.parse(reply), 200);
  });
};
