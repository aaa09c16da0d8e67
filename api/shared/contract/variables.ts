/**
 * The names a caller may give call variables: a letter, then letters, digits or _. This leaves out
 * what Asterisk reads as something else than a plain variable: a leading _ or __ (passed on to
 * other channels) and a function such as CALLERID(num).
 */
export const CALL_VARIABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * Caller variables reach the channel in their own namespace, `OUTDIAL_VAR_<name>`, so that none
 * can shadow a dialplan global (OUTBOUND_PROMPT), a variable Asterisk itself reads
 * (TRANSFER_CONTEXT, DYNAMIC_FEATURES, …) or one the sidecar sets (TRACEPARENT).
 */
export const CALL_VARIABLE_PREFIX = 'OUTDIAL_VAR_';

/** The channel variable a caller's variable `name` becomes. */
export const channelVariableName = (name: string): string => `${CALL_VARIABLE_PREFIX}${name}`;
