import { type CountryCode, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js';

/**
 * A phone number as people write it ("(202) 555-0123", "+44 20 7946 0958", "202.555.0123") in E.164
 * (`+12025550123`), read by libphonenumber-js's kept metadata; a number without a country code is
 * taken to be in `region` (ISO 3166 alpha-2, e.g. `US`). A number is taken when its length is possible
 * for its country: whether it is assigned is the network's business, and test ranges such as 555
 * must pass. The reason of a refusal is plain words, fit for a report row.
 */
export function normalizePhone(
  input: string,
  region: string,
): { ok: true; e164: string } | { ok: false; reason: string } {
  const text = input.trim();
  if (text === '') return { ok: false, reason: 'the phone number is empty' };
  if (text.length > 40) return { ok: false, reason: 'the phone number is longer than 40 characters' };
  if (!isSupportedCountry(region)) return { ok: false, reason: `${region} is not a known region code` };
  const parsed = parsePhoneNumberFromString(text, region as CountryCode);
  if (!parsed) return { ok: false, reason: 'is not a phone number' };
  if (!parsed.isPossible()) {
    return { ok: false, reason: `is not a possible phone number for region ${parsed.country ?? region}` };
  }
  return { ok: true, e164: parsed.number };
}
