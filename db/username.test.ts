import { describe, expect, test } from 'bun:test';
import { canonicalUsername } from './username.ts';

describe('canonicalUsername', () => {
  test('folds case and compatibility forms to one spelling', () => {
    for (const [spelling, canonical] of [
      ['alice', 'alice'],
      ['ALICE', 'alice'],
      ['Alice.Smith@Example-1_2', 'alice.smith@example-1_2'],
      ['ＡＬＩＣＥ', 'alice'], // fullwidth
      ['\u212Aate', 'kate'], // KELVIN SIGN
      ['ﬁle', 'file'], // ligature
      ['\u1d52tto', 'otto'], // MODIFIER LETTER SMALL O
      ['al\u00ADice', 'alice'], // soft hyphen
      ['al\u200Bi\u200Dce\uFE0F', 'alice'], // zero-width space and joiner, variation selector
      ['straße', 'strasse'],
      ['STRASSE', 'strasse'],
      ['\u1E9E', 'ss'], // LATIN CAPITAL LETTER SHARP S
      ['ſam', 'sam'], // long s
      ['alıce', 'alice'], // dotless ı: its capital is I
      ['ΣΑΣ', 'σας'],
      ['σασ', 'σας'],
      ['Ꭰ', 'ꭰ'], // Cherokee: lowercase letters exist since Unicode 8
    ] as const) {
      expect({ spelling, canonical: canonicalUsername(spelling) }).toEqual({ spelling, canonical });
    }
  });

  test('keeps apart what is another name', () => {
    // İ folds to i + COMBINING DOT ABOVE, as Unicode's default (not Turkish) case folding has it.
    expect(canonicalUsername('alİce')).toBe('ali\u0307ce');
    expect(canonicalUsername('alİce')).not.toBe(canonicalUsername('alice'));
    expect(canonicalUsername('alice ')).not.toBe(canonicalUsername('alice'));
    expect(canonicalUsername('a-lice')).not.toBe(canonicalUsername('alice'));
    expect(canonicalUsername('аlice')).not.toBe(canonicalUsername('alice')); // Cyrillic а
  });

  test('for every assigned code point: folding twice changes nothing, and upper or lower case gives the same form', () => {
    const broken: string[] = [];
    // Planes 0 to 3 hold every letter; plane 14 holds tags and variation selectors.
    const ranges = [
      [0, 0x3ffff],
      [0xe0000, 0xe0fff],
    ] as const;
    for (const [from, to] of ranges) {
      for (let cp = from; cp <= to && broken.length < 20; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        // Case variants of the normalised spelling: upper-casing an unnormalised combining sequence can
        // move a mark (U+0345 becomes a capital iota), in Unicode's own case folding too.
        const name = `a${String.fromCodePoint(cp)}\u0307Σ`.normalize('NFKC');
        const once = canonicalUsername(name);
        if (canonicalUsername(once) !== once) broken.push(`U+${cp.toString(16)}: not idempotent`);
        if (canonicalUsername(name.toUpperCase()) !== once || canonicalUsername(name.toLowerCase()) !== once)
          broken.push(`U+${cp.toString(16)}: case variants differ`);
      }
    }
    expect(broken).toEqual([]);
  });
});
