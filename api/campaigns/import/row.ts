import { normalizePhone } from '../../lib/phone.ts';
import { CALL_VARIABLE_NAME } from '../../shared/contract/index.ts';

/**
 * One contact of an import, checked with no I/O: its number in E.164, its time zone (IANA, in the
 * spelling Intl gives it), its variables by the rules of a call's variables. A refusal says in plain
 * words which field is wrong and why, for the import's report.
 */

export interface ContactInput {
  phone_number?: unknown;
  timezone?: unknown;
  variables?: unknown;
}

export interface CheckedContact {
  phoneNumber: string;
  timezone: string | null;
  variables: Record<string, string>;
}

export type RowCheck = { ok: true; contact: CheckedContact } | { ok: false; reason: string };

/** The fields a contact of a JSON import may have. */
const CONTACT_FIELDS = new Set(['phone_number', 'timezone', 'variables']);
export const MAX_CONTACT_VARIABLES = 20;
const MAX_VARIABLE_VALUE = 256;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
export const VARIABLE_NAME_RULE = 'a letter, then letters, digits or _ (at most 64 characters)';

const zones = new Map<string, string | null>();

/** The IANA zone `name` names (case as Intl spells it), or null when Intl knows no such zone. */
export function canonicalZone(name: string): string | null {
  const known = zones.get(name);
  if (known !== undefined) return known;
  let zone: string | null = null;
  try {
    zone = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    zone = null;
  }
  // Files repeat a handful of zones: remember them, but never without bound.
  if (zones.size < 1000) zones.set(name, zone);
  return zone;
}

/** Why a variable name or value is refused, or null when it is fine. */
export function variableProblem(name: string, value: unknown): string | null {
  if (!CALL_VARIABLE_NAME.test(name))
    return `variable "${clip(name)}" is not a variable name: ${VARIABLE_NAME_RULE}`;
  if (typeof value !== 'string') return `variable ${name} must be text`;
  if (value.length > MAX_VARIABLE_VALUE)
    return `variable ${name} is longer than ${MAX_VARIABLE_VALUE} characters`;
  if (CONTROL.test(value)) return `variable ${name} contains control characters`;
  return null;
}

const clip = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text).replace(CONTROL, '?');

/** A contact as a JSON import gives it (an element of the array). */
export function checkJsonContact(element: unknown, region: string): RowCheck {
  if (typeof element !== 'object' || element === null || Array.isArray(element)) {
    return { ok: false, reason: 'is not an object with a phone_number' };
  }
  const unknown = Object.keys(element).filter((k) => !CONTACT_FIELDS.has(k));
  if (unknown.length > 0) {
    return {
      ok: false,
      reason: `"${clip(unknown[0]!)}" is not a field of a contact, which takes phone_number, timezone and variables`,
    };
  }
  const input = element as ContactInput;
  const variables = input.variables;
  if (variables !== undefined && variables !== null) {
    if (typeof variables !== 'object' || Array.isArray(variables)) {
      return { ok: false, reason: 'variables must be an object of names and text values' };
    }
  }
  return checkContact(
    input.phone_number,
    input.timezone,
    Object.entries((variables as Record<string, unknown> | null | undefined) ?? {}),
    region,
  );
}

/** A contact from its parts, whichever format they came in. */
export function checkContact(
  phone: unknown,
  timezone: unknown,
  variables: [string, unknown][],
  region: string,
): RowCheck {
  if (phone === undefined || phone === null || phone === '') {
    return { ok: false, reason: 'phone_number is missing' };
  }
  if (typeof phone !== 'string') return { ok: false, reason: 'phone_number must be text' };
  const number = normalizePhone(phone, region);
  if (!number.ok) return { ok: false, reason: `phone_number ${number.reason}` };
  let zone: string | null = null;
  if (timezone !== undefined && timezone !== null && timezone !== '') {
    if (typeof timezone !== 'string') return { ok: false, reason: 'timezone must be text' };
    zone = timezone.length <= 64 ? canonicalZone(timezone) : null;
    if (!zone) {
      return {
        ok: false,
        reason: `timezone "${clip(timezone)}" is not an IANA time zone such as America/New_York`,
      };
    }
  }
  if (variables.length > MAX_CONTACT_VARIABLES) {
    return {
      ok: false,
      reason: `has ${variables.length} variables; a contact takes at most ${MAX_CONTACT_VARIABLES}`,
    };
  }
  const vars: Record<string, string> = {};
  for (const [name, value] of variables) {
    const problem = variableProblem(name, value);
    if (problem) return { ok: false, reason: problem };
    vars[name] = value as string;
  }
  return { ok: true, contact: { phoneNumber: number.e164, timezone: zone, variables: vars } };
}
