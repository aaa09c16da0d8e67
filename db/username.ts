/**
 * The one form of a username that uniqueness, login and login throttling compare: two spellings are
 * the same name exactly when their canonical forms are equal. It is computed here only, in
 * JavaScript, and stored (`users.username_canonical`, unique); the database never folds case
 * itself, because Postgres' lower() depends on the collation and folds differently (it turns the
 * dotted capital İ into a plain i, which JavaScript does not).
 *
 * The rule, close to Unicode's NFKC_Casefold:
 * 1. NFKC: compatibility forms become their plain letters (fullwidth `ａ` → `a`, the Kelvin sign
 *    `K` → `K`, ligatures `ﬁ` → `fi`, modifier letters `ᵒ` → `o`);
 * 2. default-ignorable code points are dropped (soft hyphen, zero-width joiners and spaces, variation
 *    selectors): they are invisible, so they cannot tell two names apart;
 * 3. case: lower, then upper, then lower again. Two spellings that differ only in case end equal,
 *    including the full foldings that lowercasing alone misses (`ß`, `ẞ` and `ss`; final `ς` and
 *    `σ`; `ſ` and `s`). It is a little wider than Unicode's case folding: dotless `ı` becomes `i`
 *    (its capital is I). The capital dotted `İ` becomes `i` + U+0307 COMBINING DOT ABOVE, as in
 *    Unicode's default (not Turkish) folding, so it stays apart from `i`;
 * 4. NFKC again, so the result is normalised and folding it again changes nothing.
 *
 * String case mappings in JavaScript do not depend on the locale, so every instance computes the
 * same form. Usernames made through the API or the CLI are ASCII letters, digits and `_ . @ -`,
 * where all of this comes down to lowercasing; the rule matters for what a login sends.
 */
export function canonicalUsername(name: string): string {
  return name
    .normalize('NFKC')
    .replace(DEFAULT_IGNORABLE, '')
    .toLowerCase()
    .toUpperCase()
    .toLowerCase()
    .normalize('NFKC');
}

const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
