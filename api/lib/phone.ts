import {
  type CountryCode,
  isSupportedCountry,
  ParseError,
  parsePhoneNumberWithError,
} from 'libphonenumber-js';

/**
 * The one place a number as people write it becomes E.164 (`+15551234000`): the do-not-call list and
 * campaign contacts both go through it, so the same number is always stored the same way. National
 * numbers are read in `region` (an ISO 3166 country code such as `US`, DEFAULT_PHONE_REGION).
 *
 * A number must be possible for its country (its length fits), not necessarily assigned: numbering
 * plans change faster than any kept metadata, and test ranges (555) must work. What the number is
 * written with is checked first and never guessed at: only digits, spaces, `+ ( ) - .`, so `555-1234
 * ext 5` or `+1555;x` are refused rather than dialled as something else.
 */
export type PhoneResult = { ok: true; e164: string } | { ok: false; reason: string };

const WRITTEN = /^[0-9 +().-]{1,40}$/;
/** As calls store numbers (7 to 20 characters). */
const MIN_E164 = 7;

const PARSE_REASONS: Record<string, string> = {
  NOT_A_NUMBER: 'is not a phone number',
  INVALID_COUNTRY: 'has no country: give it as +<country code><number>, or set a region',
  TOO_SHORT: 'is too short to be a phone number',
  TOO_LONG: 'is too long to be a phone number',
  INVALID_LENGTH: 'has a length no number of its country has',
};

/** Whether `region` is a country code the phone metadata knows (DEFAULT_PHONE_REGION). */
export function isPhoneRegion(region: string): boolean {
  return isSupportedCountry(region);
}

export function normalizePhone(input: string, region: string): PhoneResult {
  const written = input.replace(/^ +| +$/g, '');
  if (!WRITTEN.test(written))
    return { ok: false, reason: 'must be digits, with an optional + and spaces, ( ) - or . (at most 40)' };
  if (!/[0-9]/.test(written)) return { ok: false, reason: PARSE_REASONS.NOT_A_NUMBER! };
  let parsed: ReturnType<typeof parsePhoneNumberWithError>;
  try {
    parsed = parsePhoneNumberWithError(
      written,
      isSupportedCountry(region) ? (region as CountryCode) : undefined,
    );
  } catch (error) {
    const code = error instanceof ParseError ? error.message : '';
    return { ok: false, reason: PARSE_REASONS[code] ?? PARSE_REASONS.NOT_A_NUMBER! };
  }
  if (!parsed.isPossible()) return { ok: false, reason: 'has a length no number of its country has' };
  if (parsed.number.length < MIN_E164) return { ok: false, reason: PARSE_REASONS.TOO_SHORT! };
  return { ok: true, e164: parsed.number };
}
