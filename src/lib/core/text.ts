/**
 * Text helpers for what people type and cards carry: Vietnamese names, place names, phone numbers.
 */

/**
 * The form to compare or search Vietnamese text in: no diacritics, đ as d, lower case, single
 * spaces. People type "duc tho" for "Đức Thọ", and scanners, keyboards and cards disagree on
 * case and accents, so equality and search go through this.
 */
export function foldVietnamese(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * A Vietnamese mobile number in its 10-digit national form `0xxxxxxxxx`, or null.
 * Accepts the ways people write one: `+84 912 345 678`, `84912345678`, `0084…`, `0912.345.678`,
 * `(+84) 912-345-678`. Since the 2018 renumbering mobiles are 03x, 05x, 07x, 08x and 09x; other
 * numbers (landlines, the old 11-digit 01xx) are refused rather than guessed.
 */
export function normalizePhone(text: string): string | null {
  const compact = text.trim().replace(/[\s.\-()]/g, '');
  if (!/^\+?[0-9]{9,15}$/.test(compact)) return null;
  let national: string;
  if (compact.startsWith('+84')) national = compact.slice(3);
  else if (compact.startsWith('0084')) national = compact.slice(4);
  else if (compact.startsWith('+')) return null; // another country
  else if (compact.startsWith('84') && compact.length === 11) national = compact.slice(2);
  else if (compact.startsWith('0')) national = compact.slice(1);
  else return null;
  // "+84 0912…" is a common way of writing it too.
  if (national.length === 10 && national.startsWith('0')) national = national.slice(1);
  return /^[35789][0-9]{8}$/.test(national) ? '0' + national : null;
}

/**
 * Backslash escaping for the app's `|`-separated QR texts (personal QR, shared diary days): the
 * characters that separate fields, and the backslash itself, get a `\` before them.
 */
export function escapeChars(text: string, specials: string): string {
  return [...text].map((c) => (c === '\\' || specials.includes(c) ? '\\' + c : c)).join('');
}

/**
 * Splits on `separator` where it is not escaped, keeping escapes in the fields so that they can be
 * split again at an inner level; null for a trailing lone `\`.
 */
export function splitEscaped(text: string, separator: string): string[] | null {
  const fields: string[] = [];
  let field = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      if (i + 1 >= text.length) return null;
      field += c + text[i + 1];
      i++;
    } else if (c === separator) {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/** Removes the escapes; null when one escapes a character outside `specials` (and `\`): not written by us. */
export function unescapeChars(field: string, specials: string): string | null {
  let out = '';
  for (let i = 0; i < field.length; i++) {
    const c = field[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = field[i + 1];
    if (next === undefined || (next !== '\\' && !specials.includes(next))) return null;
    out += next;
    i++;
  }
  return out;
}

/**
 * Characters that change how text around them is shown without showing themselves: bidi embeddings,
 * overrides and isolates (U+202A–202E, U+2066–2069), the direction marks (U+200E, U+200F, U+061C),
 * zero-width spaces and joiners (U+200B–200D, U+2060) and the byte-order mark (U+FEFF). In a venue
 * name on a poster or a message on thousands of phones they only serve to make text read other than
 * it is stored ("Chợ" that sorts, searches and compares as something else), so they are removed.
 */
const INVISIBLE_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C\u200B-\u200D\u2060\uFEFF]/g;
/** Half of a surrogate pair without its other half: not a character, and JSON writes it as `\\udxxx`. */
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** C0 and C1 control characters other than tab and line feed: no keyboard types them. */
const CONTROL_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;

/**
 * The one form in which text people type is stored and signed: invisible and control characters
 * and lone surrogates removed, Unicode NFC (a keyboard's decomposed "ọ" and a card's composed one are the same letter),
 * line ends as `\n`, no blanks at either end. Lengths are checked on this form, so that 100,000
 * spaces and an "X" are a name of one letter, stored as one.
 */
export function cleanText(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(INVISIBLE_CONTROLS, '').replace(CONTROL_CHARS, '').replace(LONE_SURROGATES, '').normalize('NFC').trim();
}

/** cleanText for one-line fields (names, places, addresses, numbers): every run of blanks is one space. */
export function cleanLine(text: string): string {
  return cleanText(text).replace(/\s+/g, ' ');
}
