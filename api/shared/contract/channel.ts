/**
 * The signed channel between the API and a sidecar: where each side listens, and the JWT `typ`
 * that tells a command token from an event token, so one never passes for the other.
 */

/** Paths of the sidecar's command endpoints. */
export const SIDECAR_PATHS = {
  originate: '/v1/commands/originate',
  hangup: '/v1/commands/hangup',
  status: '/v1/status',
  /** A stored recording's audio, streamed (RecordingFileCommand). */
  recordingFile: '/v1/commands/recording-file',
  /** Delete stored recordings of a call from the PBX (RecordingDeleteCommand). */
  recordingDelete: '/v1/commands/recording-delete',
} as const;

/** Path of the API's endpoint for the sidecar's event batches. */
export const API_EVENTS_PATH = '/api/v2/sidecar/events';

/**
 * Path of the API's endpoint that runs a flow's `request` step for a sidecar: the API posts the
 * answers to the client's URL (signed and address-checked like webhooks) and returns the steps.
 */
export const API_FLOW_REQUESTS_PATH = '/api/v2/sidecar/flow-requests';

export const TYP_COMMAND = 'outdial-command+jwt';
export const TYP_EVENTS = 'outdial-events+jwt';
export const TYP_FLOW_REQUEST = 'outdial-flow-request+jwt';

/** Path of the API's endpoint where a sidecar with free capacity pulls due campaign attempts. */
export const API_LEASE_PATH = '/api/v2/sidecar/lease';
export const TYP_LEASE = 'outdial-lease+jwt';
