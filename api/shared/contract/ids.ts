import { z } from 'zod';

/** A call's id: a UUID, given by the API; it is also the ARI channel id of the call's `;1` leg. */
export const CallIdSchema = z.uuid();

/**
 * A sidecar's id: letters, digits, _ and -, 1 to 64 of them. It names the sidecar's outbox file and
 * its principal on the channel (`sidecar:<id>`), so it holds no dot, slash or colon.
 */
export const SIDECAR_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const SIDECAR_ID_RULE = 'letters, digits, _ and - only, at most 64 (it names the outbox file)';

export const SidecarIdSchema = z.string().regex(SIDECAR_ID_PATTERN, SIDECAR_ID_RULE);

/** A sidecar's name on the signed channel: the issuer of its event batches, the audience of commands to it. */
export function sidecarPrincipal(id: string): string {
  return `sidecar:${id}`;
}

/** The sidecar id a principal names, or null when it names no sidecar. */
export function sidecarIdOf(principal: string): string | null {
  if (!principal.startsWith('sidecar:')) return null;
  const id = principal.slice('sidecar:'.length);
  return SIDECAR_ID_PATTERN.test(id) ? id : null;
}

/** A dialplan context: letters, digits, _ or -, 1 to 50. */
export const CONTEXT_PATTERN = /^[A-Za-z0-9_-]{1,50}$/;
/** A dialplan extension: letters, digits or _ * # + -, 1 to 50. */
export const EXTENSION_PATTERN = /^[A-Za-z0-9_*#+-]{1,50}$/;
