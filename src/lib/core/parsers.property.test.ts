/**
 * Every parser of outside input (what a camera, a link, a keyboard, a file or a network gives)
 * against arbitrary text and against valid codes mutated at random: none may throw, and each says
 * why it refuses (a reason, or null where its caller words the refusal). Run counts are kept low
 * enough for the unit suite to stay fast; fast-check prints the smallest failing input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToDigits, digitsToBytes } from './base10';
import { decodeDiaryDay, encodeDiaryDay } from './citizen/diary-share';
import { parseBhyt, parseCccd, parseNationalQr, readBhyt } from './id-codes';
import { decodeKeysDocument, decodeRevoked, encodeKeysDocument } from './keys';
import { encodePersonalQr, parsePersonalQr } from './citizen/personal-qr';
import { classifyScan } from './citizen/scan';
import { checkDiaryShareRequest, normalizeShareCode } from './citizen/share-code';
import { readStationCode } from './venue/station-scan';
import { at, makeVisit } from './testing';
import { parseUnitsCsv, parseZonesCsv } from './units';
import { checkinUrl, extractVenueToken, parseShortLink, parseVenueToken, readVenueCode, verifyVenueToken } from './venue/venue-token';
import { newSigningKey, publicKeyOf, signVenueToken } from './venue/venue-signing';

const key = newSigningKey('1001');
const TOKEN = signVenueToken({ venueId: 'demochoducth', name: 'Chợ Đức Thọ', communeCode: '18070', venueType: 'market' }, key);
const URL_CODE = checkinUrl('https://luuvet.example', TOKEN);
const PERSONAL = 'LVP1|Nguyễn Thị Phương Hoa Anh|0912345678|1987|18070|042187000123|TK|2021-09-15|FCT|0|18070,18073,42|2';
const CCCD = '001099000001|000000001|Nguyễn Văn A|01011990|Nam|Số 1 Đường Thử Nghiệm, Phường Mẫu, Quận 1, TP. Hồ Chí Minh|15042021';
const BHYT_OLD =
  'DN4790000000001|4e677579e1bb856e2056c4836e2041|01/01/1990|1|53e1bb91203120c490c6b0e1bb9d6e67205468e1bbad204e676869e1bb876d2c205175e1baad6e20312c2054502048e1bb93204368c3ad204d696e68|79 - 012|01/01/2020|31/12/2020|01/01/2020|790000000001|-|4|-|0000000000000000-0000|$';
const BHYT_NEW =
  '0100000001|4cc3aa2056c4836e205468e1bbad|15/08/1985|1|-|01 - 001|01/01/2024|-|02/01/2024|01050100000001|-|4| 01/01/2029|0000000000000000-0000|4|5175e1baad6e204de1baab752c205468c3a06e68207068e1bb91204769e1baa320c490e1bb8b6e68|$';
const NATIONAL = '001099000001|Nguyễn Văn A|01/01/1990|Nam|0912345678|Hà Nội';
const day = '2021-08-20';
const DIARY = encodeDiaryDay(day, [
  makeVisit({ id: 'a', checkin: at(day, '08:30'), checkout: at(day, '09:15') }),
  makeVisit({ id: 'b', venueId: null, communeCode: null, source: 'manual', verification: 'manual', venueName: 'Nhà bà Tư; ngõ 3, thôn|Đông \\', checkin: at(day, '19:00'), checkout: null })
])[0]!;
const UNITS_CSV = 'code,name,level,parent\n42,Tỉnh Hà Tĩnh,province,\n440,Huyện Đức Thọ,district,42\n18070,Thị trấn Đức Thọ,commune,440\n';
const ZONES_CSV = 'code,level,since\n42,2,2021-09-01\n18070,4,2021-09-02\n';

/** Characters that break parsers: separators, escapes, digits, controls, bidi, surrogates, astral. */
const nasty = fc.constantFrom('|', '\\', ';', ',', '#', '/', ':', '%', '"', '\n', '\r', '\0', '\u202e', '\u200b', '\ufeff', '\ud800', '\udfff', '😀', 'ọ', 'Đ', '0', '9', ' ', '-', '$', 'TK');
const anyChar = fc.oneof(nasty, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));

/** A valid code changed the ways a camera, a keyboard or an attacker change one. */
function mutated(valid: string): fc.Arbitrary<string> {
  const at = fc.nat({ max: valid.length });
  return fc.oneof(
    fc.tuple(at, anyChar).map(([i, c]) => valid.slice(0, i) + c + valid.slice(i + 1)), // a character flipped
    at.map((i) => valid.slice(0, i)), // truncated
    at.map((i) => valid.slice(i)), // its start lost
    fc.tuple(at, fc.array(anyChar, { maxLength: 8 })).map(([i, cs]) => valid.slice(0, i) + cs.join('') + valid.slice(i)), // inserted
    fc.tuple(at, fc.nat({ max: 40 })).map(([i, n]) => valid.slice(0, i) + valid.slice(i + n)), // a piece cut out
    fc.tuple(at, fc.string({ unit: 'grapheme', maxLength: 20 })).map(([i, s]) => valid.slice(0, i) + s + valid.slice(i)), // unicode
    fc.integer({ min: 2, max: 40 }).map((n) => valid.repeat(n)), // repeated
    fc.constantFrom(1_000, 100_000, 1_000_000).chain((n) => anyChar.map((c) => valid + c.repeat(n))) // huge, up to 1 MB
  );
}

const textInput = (...valids: string[]) => fc.oneof({ weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) }, ...valids.map((v) => ({ weight: 3, arbitrary: mutated(v) })));

const RUNS = { numRuns: 100 };

describe('venue codes', () => {
  it('parseVenueToken and readVenueCode never throw, and name the reason of a refusal', async () => {
    await fc.assert(
      fc.asyncProperty(textInput(TOKEN, URL_CODE), async (text) => {
        const parsed = parseVenueToken(text);
        if (parsed.ok) await expect(verifyVenueToken(parsed, [publicKeyOf(key)])).resolves.toMatch(/^(verified|bad-signature)$/);
        else expect(['not-a-token', 'unknown-version', 'damaged']).toContain(parsed.reason);
        const read = readVenueCode(text);
        expect(read === null || read.kind === 'venue' || read.kind === 'venue-damaged').toBe(true);
        extractVenueToken(text);
        parseShortLink(text);
      }),
      RUNS
    );
  });

  it('a changed digit of a signed token never verifies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: TOKEN.length - 1 }), fc.integer({ min: 1, max: 9 }), async (i, d) => {
        const changed = TOKEN.slice(0, i) + String((Number(TOKEN[i]) + d) % 10) + TOKEN.slice(i + 1);
        const parsed = parseVenueToken(changed);
        if (parsed.ok) await expect(verifyVenueToken(parsed, [publicKeyOf(key)])).resolves.not.toBe('verified');
      }),
      { numRuns: 40 }
    );
  });

  it('base10 reads back what it wrote, and refuses what it did not write', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(digitsToBytes(bytesToDigits(bytes))).toEqual(bytes);
      }),
      RUNS
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('0', '1', '5', '9', 'a'), maxLength: 400 }), (digits) => {
        const bytes = digitsToBytes(digits);
        if (bytes) expect(bytesToDigits(bytes)).toBe(digits);
      }),
      RUNS
    );
  });
});

describe('codes a station reads', () => {
  it('personal QR: parses or refuses, never throws; what it parses encodes back to a code it parses alike', () => {
    fc.assert(
      fc.property(textInput(PERSONAL), (text) => {
        const data = parsePersonalQr(text);
        if (data) expect(parsePersonalQr(encodePersonalQr(data))).toEqual(data);
      }),
      RUNS
    );
  });

  it('CCCD, BHYT and the national QR: a person or null, never a throw', () => {
    fc.assert(
      fc.property(textInput(CCCD, BHYT_OLD, BHYT_NEW, NATIONAL), (text) => {
        for (const person of [parseCccd(text), parseBhyt(text), parseNationalQr(text)]) if (person) expect(typeof person.name).toBe('string');
        const bhyt = readBhyt(text);
        if (!bhyt.ok) expect(typeof bhyt.reason).toBe('string');
      }),
      RUNS
    );
  });

  it('readStationCode and classifyScan: a person, or a reason and a short preview', () => {
    fc.assert(
      fc.property(textInput(PERSONAL, CCCD, BHYT_NEW, TOKEN, URL_CODE, 'https://example.com/x'), (text) => {
        const read = readStationCode(text);
        if (!read.ok) {
          expect(['empty', 'venue-code', 'link', 'unknown']).toContain(read.reason);
          expect([...read.preview].length).toBeLessThanOrEqual(61);
        }
        expect(classifyScan(text).kind).toMatch(/^(venue|venue-damaged|personal|id-card|health-insurance|link|text|empty)$/);
      }),
      RUNS
    );
  });
});

describe('codes a team reads', () => {
  it('diary day codes: a day or null, never a throw; a decoded day is well-formed', () => {
    fc.assert(
      fc.property(textInput(DIARY), (text) => {
        const shared = decodeDiaryDay(text);
        if (shared) {
          expect(shared.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
          for (const visit of shared.visits) expect(Number.isFinite(visit.checkin)).toBe(true);
        }
      }),
      RUNS
    );
  });

  it('share codes and diary share requests: a code, or a reason', () => {
    fc.assert(
      fc.property(fc.oneof(textInput('7K3M-Q9TX'), fc.anything()), (input) => {
        const code = normalizeShareCode(input);
        if (code !== null) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{8}$/);
      }),
      RUNS
    );
    const visit = { venueId: 'venueaaaaaaa', communeCode: '18070', place: 'Chợ Hà Tĩnh', from: Date.UTC(2021, 7, 18), to: Date.UTC(2021, 7, 18, 1), source: 'diary' };
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({ code: fc.oneof(fc.constant('7k3m-q9tx'), fc.anything()), visits: fc.oneof(fc.array(fc.oneof(fc.constant(visit), fc.anything()), { maxLength: 5 }), fc.anything()) }),
          fc.dictionary(fc.string(), fc.anything())
        ),
        (body) => {
          const check = checkDiaryShareRequest(body, Date.UTC(2021, 7, 20));
          if (!check.ok) expect(check.reason.length).toBeGreaterThan(0);
        }
      ),
      RUNS
    );
  });
});

describe('files and documents from the network', () => {
  it('units and zones CSV: units or errors with a line and a message, never a throw', () => {
    fc.assert(
      fc.property(textInput(UNITS_CSV, ZONES_CSV), (text) => {
        for (const result of [parseUnitsCsv(text), parseZonesCsv(text)]) for (const error of result.errors) expect(error.message.length).toBeGreaterThan(0);
      }),
      { numRuns: 80 }
    );
  });

  it('the keys document: keys or null, never a throw', () => {
    const doc = { ...encodeKeysDocument('1001', [publicKeyOf(key)]), revoked: ['demochoducth'] };
    const publicKey = doc.keys[0]!.publicKey;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          mutated(publicKey).map((k) => ({ ...doc, keys: [{ id: '1001', publicKey: k }] })),
          fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 43, maxLength: 43 }).map((k) => ({ ...doc, keys: [{ id: '1001', publicKey: k }] })),
          fc.anything().map((revoked) => ({ ...doc, revoked }))
        ),
        (json) => {
          const keys = decodeKeysDocument(json);
          if (keys) for (const k of keys) expect(k.publicKey).toHaveLength(32);
          expect(decodeRevoked(json)).toBeInstanceOf(Set);
        }
      ),
      RUNS
    );
  });
});
