/**
 * The signed channel between the API and a sidecar: where each side listens, and the JWT `typ`
 * that tells a command token from an event token, so one never passes for the other.
 */

/** Paths of the sidecar's command endpoints. */
export const SIDECAR_PATHS = {
  originate: '/v1/commands/originate',
  hangup: '/v1/commands/hangup',
  status: '/v1/status',
} as const;

/** Path of the API's endpoint for the sidecar's event batches. */
export const API_EVENTS_PATH = '/api/v2/sidecar/events';

export const TYP_COMMAND = 'outdial-command+jwt';
export const TYP_EVENTS = 'outdial-events+jwt';
