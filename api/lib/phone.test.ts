import { describe, expect, test } from 'bun:test';
import { isPhoneRegion, normalizePhone } from './phone.ts';

describe('normalizePhone', () => {
  test.each([
    ['+15551234000', 'US', '+15551234000'],
    ['5551234000', 'US', '+15551234000'],
    ['(555) 123-4000', 'US', '+15551234000'],
    [' +1 555.123.4000 ', 'US', '+15551234000'],
    ['020 7183 8750', 'GB', '+442071838750'],
    ['+44 20 7183 8750', 'US', '+442071838750'],
  ])('%s in %s is %s', (input, region, e164) => {
    expect(normalizePhone(input, region)).toEqual({ ok: true, e164 });
  });

  test.each([
    ['', 'US'],
    ['abc', 'US'],
    ['+1', 'US'],
    ['123', 'US'],
    ['+15557771', 'US'],
    ['+999123456789', 'US'],
    ['5551234000', 'XX'],
    ['+1 555 123 4000 ext 5', 'US'],
    ['+15551234000;x', 'US'],
    ['５５５１２３４０００', 'US'],
    ['1'.repeat(41), 'US'],
    ['+1 (555) 123-4000\n', 'US'],
  ])('%p in %s is refused with a reason', (input, region) => {
    const result = normalizePhone(input, region);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason.length).toBeGreaterThan(5);
  });

  test('regions are the metadata’s country codes', () => {
    expect(isPhoneRegion('US')).toBe(true);
    expect(isPhoneRegion('GB')).toBe(true);
    expect(isPhoneRegion('XX')).toBe(false);
    expect(isPhoneRegion('us')).toBe(false);
  });
});
