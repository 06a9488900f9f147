import { describe, expect, it } from 'vitest';
import { parseBhyt, parseCccd, parseNationalQr, readBhyt } from './id-codes';

// The FAKE vectors of shared/formats/vn-id-qr.md, verbatim.
const CCCD_1 =
  '001099000001|000000001|Nguyễn Văn A|01011990|Nam|Số 1 Đường Thử Nghiệm, Phường Mẫu, Quận 1, TP. Hồ Chí Minh|15042021';
const CCCD_2 = '079199000002||Trần Thị B|31121995|Nữ|Thôn Mẫu, Xã Thử, Huyện Ví Dụ, Tỉnh Giả Định|01072022';
const BHYT_OLD_1 =
  'DN4790000000001|4e677579e1bb856e2056c4836e2041|01/01/1990|1|53e1bb91203120c490c6b0e1bb9d6e67205468e1bbad204e676869e1bb876d2c205175e1baad6e20312c2054502048e1bb93204368c3ad204d696e68|79 - 012|01/01/2020|31/12/2020|01/01/2020|790000000001|-|4|-|0000000000000000-0000|$';
const BHYT_OLD_2 =
  'TE1790000000002|5472e1baa76e205468e1bb8b2042c3a9|05/06/2019|2|5468c3b46e204de1baab752c2058c3a3205468e1bbad2c2054e1bb896e68204769e1baa320c490e1bb8b6e68|79 - 022|05/06/2019|04/06/2025|10/06/2019|790000000002|5472e1baa76e2056c4836e20436861|4|-|0000000000000000-0000|$';
const BHYT_NEW =
  '0100000001|4cc3aa2056c4836e205468e1bbad|15/08/1985|1|-|01 - 001|01/01/2024|-|02/01/2024|01050100000001|-|4| 01/01/2029|0000000000000000-0000|4|5175e1baad6e204de1baab752c205468c3a06e68207068e1bb91204769e1baa320c490e1bb8b6e68|$';

const HUGE = 'A|'.repeat(50_000); // 100 kB
const ALL = [parseCccd, parseBhyt, parseNationalQr];

function replaceField(code: string, index: number, value: string): string {
  const fields = code.split('|');
  fields[index] = value;
  return fields.join('|');
}

describe('CCCD', () => {
  it('reads the first fake vector', () => {
    expect(parseCccd(CCCD_1)).toEqual({
      source: 'cccd',
      name: 'Nguyễn Văn A',
      idNumber: '001099000001',
      oldIdNumber: '000000001',
      birthDate: '1990-01-01',
      birthYear: 1990,
      gender: 'male',
      address: 'Số 1 Đường Thử Nghiệm, Phường Mẫu, Quận 1, TP. Hồ Chí Minh'
    });
  });

  it('reads the second fake vector, with no old CMND number', () => {
    expect(parseCccd(CCCD_2)).toEqual({
      source: 'cccd',
      name: 'Trần Thị B',
      idNumber: '079199000002',
      birthDate: '1995-12-31',
      birthYear: 1995,
      gender: 'female',
      address: 'Thôn Mẫu, Xã Thử, Huyện Ví Dụ, Tỉnh Giả Định'
    });
  });

  it('tolerates NULs, spaces, a newline, upper-case gender and extra fields', () => {
    const noisy = ` ${CCCD_2.replace('|Nữ|', '| NỮ |')}|extra\0\0\r\n`;
    expect(parseCccd(noisy)).toEqual(parseCccd(CCCD_2));
    expect(parseCccd(CCCD_1.replace('|Nam|', '|nam|'))?.gender).toBe('male');
  });

  it('reads MMyyyy and yyyy birth dates as a year only', () => {
    expect(parseCccd(replaceField(CCCD_1, 3, '011990'))).toMatchObject({ birthYear: 1990 });
    expect(parseCccd(replaceField(CCCD_1, 3, '011990'))?.birthDate).toBeUndefined();
    expect(parseCccd(replaceField(CCCD_1, 3, '1990'))?.birthYear).toBe(1990);
    expect(parseCccd(replaceField(CCCD_1, 3, '1990'))?.birthDate).toBeUndefined();
  });

  it('normalises decomposed Vietnamese to NFC', () => {
    expect(parseCccd(CCCD_1.normalize('NFD'))?.name).toBe('Nguyễn Văn A'.normalize('NFC'));
  });

  it('leaves out an empty gender or address rather than guessing', () => {
    const person = parseCccd(replaceField(replaceField(CCCD_1, 4, ''), 5, ''));
    expect(person).not.toBeNull();
    expect(person?.gender).toBeUndefined();
    expect(person?.address).toBeUndefined();
  });

  it('refuses codes that do not fit the layout', () => {
    for (const bad of [
      CCCD_1.split('|').slice(0, 6).join('|'), // too few fields
      replaceField(CCCD_1, 0, '00109900000'), // 11 digits
      replaceField(CCCD_1, 0, '00109900000A'),
      replaceField(CCCD_1, 1, '12345'), // old number neither 9 nor 12 digits
      replaceField(CCCD_1, 2, ''), // no name
      replaceField(CCCD_1, 2, '12345'),
      replaceField(CCCD_1, 3, '31022000'), // no 31 February
      replaceField(CCCD_1, 3, '01131990'), // month 13
      replaceField(CCCD_1, 3, '01/01/1990'), // hand-made demo strings, not card output
      replaceField(CCCD_1, 3, '01011890'), // implausible year
      replaceField(CCCD_1, 3, ''),
      replaceField(CCCD_1, 4, 'X'),
      BHYT_OLD_1,
      BHYT_NEW
    ]) {
      expect(parseCccd(bad), bad).toBeNull();
    }
  });
});

describe('BHYT', () => {
  it('reads the first old-card fake vector', () => {
    expect(parseBhyt(BHYT_OLD_1)).toEqual({
      source: 'bhyt',
      name: 'Nguyễn Văn A',
      insuranceNumber: 'DN4790000000001',
      birthDate: '1990-01-01',
      birthYear: 1990,
      gender: 'male',
      address: 'Số 1 Đường Thử Nghiệm, Quận 1, TP Hồ Chí Minh'
    });
    expect(readBhyt(BHYT_OLD_1)).toEqual({
      ok: true,
      card: {
        layout: 'old',
        cardNumber: 'DN4790000000001',
        name: 'Nguyễn Văn A',
        birth: { date: '1990-01-01', year: 1990 },
        gender: 'male',
        address: 'Số 1 Đường Thử Nghiệm, Quận 1, TP Hồ Chí Minh',
        clinicCode: '79012',
        validFrom: '2020-01-01',
        validTo: '2020-12-31'
      }
    });
  });

  it("reads the child's card with the parent's name", () => {
    expect(parseBhyt(BHYT_OLD_2)).toEqual({
      source: 'bhyt',
      name: 'Trần Thị Bé',
      insuranceNumber: 'TE1790000000002',
      birthDate: '2019-06-05',
      birthYear: 2019,
      gender: 'female',
      address: 'Thôn Mẫu, Xã Thử, Tỉnh Giả Định'
    });
    const read = readBhyt(BHYT_OLD_2);
    expect(read.ok && read.card.parentName).toBe('Trần Văn Cha');
    expect(read.ok && read.card.clinicCode).toBe('79022');
    expect(read.ok && read.card.validTo).toBe('2025-06-04');
  });

  it('reads the new-card fake vector (no address, no end date, leading space in [12])', () => {
    expect(parseBhyt(BHYT_NEW)).toEqual({
      source: 'bhyt',
      name: 'Lê Văn Thử',
      insuranceNumber: '0100000001',
      birthDate: '1985-08-15',
      birthYear: 1985,
      gender: 'male'
    });
    expect(readBhyt(BHYT_NEW)).toEqual({
      ok: true,
      card: {
        layout: 'new',
        cardNumber: '0100000001',
        name: 'Lê Văn Thử',
        birth: { date: '1985-08-15', year: 1985 },
        gender: 'male',
        clinicCode: '01001',
        validFrom: '2024-01-01',
        issuePlace: 'Quận Mẫu, Thành phố Giả Định'
      }
    });
  });

  it('tolerates keyboard-wedge upper case, a trailing NUL, and a missing "$"', () => {
    for (const code of [BHYT_OLD_1, BHYT_OLD_2, BHYT_NEW]) {
      const expected = parseBhyt(code);
      expect(expected).not.toBeNull();
      expect(parseBhyt(code.toUpperCase())).toEqual(expected);
      expect(parseBhyt(code + '\0')).toEqual(expected);
      expect(parseBhyt(`  ${code}\0\0\n`)).toEqual(expected);
      expect(parseBhyt(code.replace(/\|\$$/, ''))).toEqual(expected);
      expect(parseBhyt(code.replace(/\|\$$/, '$'))).toEqual(expected);
    }
  });

  it('accepts a lower-case card number (caps lock) and returns it upper-case', () => {
    expect(parseBhyt(BHYT_OLD_1.replace('DN4', 'dn4'))?.insuranceNumber).toBe('DN4790000000001');
  });

  it('reads a year-only birth date', () => {
    const person = parseBhyt(replaceField(BHYT_OLD_1, 2, '1990'));
    expect(person?.birthYear).toBe(1990);
    expect(person?.birthDate).toBeUndefined();
  });

  it('falls back to the raw text of a name field that is plainly not hex', () => {
    expect(parseBhyt(replaceField(BHYT_OLD_1, 1, 'Nguyễn Văn A'))?.name).toBe('Nguyễn Văn A');
    expect(parseBhyt(replaceField(BHYT_OLD_1, 1, 'NGUYEN VAN A'))?.name).toBe('NGUYEN VAN A');
  });

  it('refuses an IME-mangled hex field clearly (Telex: E -> Ê, EA -> Ê …)', () => {
    // "4E677579E1BB856E2056C4836E2041" typed through Telex with the Vietnamese keyboard on.
    const mangled = replaceField(BHYT_OLD_1.toUpperCase(), 1, '4Ê677579Ê1BB856Ê2056C4836Ê2041');
    expect(readBhyt(mangled)).toEqual({ ok: false, reason: 'ime-mangled' });
    expect(parseBhyt(mangled)).toBeNull();
    const mangledAddress = replaceField(BHYT_OLD_1, 4, '53Ê1BB91203120C490C6B0Ê1BB9D6Ê67');
    expect(readBhyt(mangledAddress)).toEqual({ ok: false, reason: 'ime-mangled' });
    expect(readBhyt(replaceField(BHYT_OLD_1, 1, '4Ê677579Ê1BB8Đ56Ê'))).toEqual({ ok: false, reason: 'ime-mangled' });
  });

  it('refuses damaged name, address, birth date or gender', () => {
    for (const bad of [
      replaceField(BHYT_OLD_1, 1, '4e677579e1bb856e2056c4836e204'), // odd length
      replaceField(BHYT_OLD_1, 1, '4e677579zzbb856e2056c4836e2041'), // not hex
      replaceField(BHYT_OLD_1, 1, 'c3'), // cut in the middle of a UTF-8 sequence
      replaceField(BHYT_OLD_1, 1, 'ff00'),
      replaceField(BHYT_OLD_1, 1, '0a0b'), // control characters
      replaceField(BHYT_OLD_1, 1, '-'), // no name
      replaceField(BHYT_OLD_1, 1, '313233'), // "123" is not a name
      replaceField(BHYT_OLD_1, 4, '53e1bb9120312'), // odd-length address
      replaceField(BHYT_OLD_1, 2, '31/02/1990'),
      replaceField(BHYT_OLD_1, 2, 'hôm qua'),
      replaceField(BHYT_OLD_1, 3, '3')
    ]) {
      expect(readBhyt(bad), bad).toEqual({ ok: false, reason: 'damaged' });
    }
  });

  it('drops an unreadable field it does not store rather than refusing the card', () => {
    const read = readBhyt(replaceField(BHYT_OLD_2, 10, '5472e1baa76e2056c4836e2043686')); // odd parent hex
    expect(read.ok && read.card.name).toBe('Trần Thị Bé');
    expect(read.ok && read.card.parentName).toBeUndefined();
  });

  it('is not fooled by other codes', () => {
    for (const other of [
      BHYT_OLD_1.split('|').slice(0, 10).join('|'), // cut off
      BHYT_NEW.split('|').slice(0, 15).join('|'),
      replaceField(BHYT_OLD_1, 0, 'DN479000000001'), // 14 characters
      replaceField(BHYT_OLD_1, 0, 'D14790000000001'),
      replaceField(BHYT_NEW, 0, '010000001'),
      CCCD_1,
      'hello'
    ]) {
      expect(readBhyt(other), other).toEqual({ ok: false, reason: 'not-bhyt' });
    }
  });
});

describe('national personal QR (unconfirmed layout)', () => {
  it('reads an unmasked code', () => {
    expect(parseNationalQr('001099000001|NGUYEN VAN A|1990-01-01|1|QID0001|')).toEqual({
      source: 'national-qr',
      name: 'NGUYEN VAN A',
      idNumber: '001099000001',
      birthDate: '1990-01-01',
      birthYear: 1990
    });
  });

  it('keeps what was read and leaves masked parts out', () => {
    expect(parseNationalQr('00109900****|NGUYEN VAN A|1990-**-**|CCCD|QID0001|x')).toEqual({
      source: 'national-qr',
      name: 'NGUYEN VAN A',
      birthYear: 1990
    });
    expect(parseNationalQr('001099000001|TRAN THI B|1995-12-**|1||\0')).toEqual({
      source: 'national-qr',
      name: 'TRAN THI B',
      idNumber: '001099000001',
      birthYear: 1995
    });
    expect(parseNationalQr('0000000*1|LE  VAN   C|1985-08-15|2|q|e')).toEqual({
      source: 'national-qr',
      name: 'LE VAN C',
      birthDate: '1985-08-15',
      birthYear: 1985
    });
  });

  it('refuses anything that does not clearly fit', () => {
    for (const bad of [
      '001099000001|NGUYEN VAN A|1990-01-01|1|QID0001', // 5 fields
      '001099000001|NGUYEN VAN A|1990-01-01|1|QID0001||', // 7 fields
      '0010990000012|NGUYEN VAN A|1990-01-01|1|Q|', // 13 digits
      '00109900000X|NGUYEN VAN A|1990-01-01|1|Q|',
      '001099000001|NGUYEN VAN 4|1990-01-01|1|Q|',
      '001099000001||1990-01-01|1|Q|',
      '001099000001|NGUYEN VAN A|01/01/1990|1|Q|',
      '001099000001|NGUYEN VAN A|1990-02-30|1|Q|',
      '001099000001|NGUYEN VAN A|****-01-01|1|Q|',
      '001099000001|NGUYEN VAN A|1990-13-**|1|Q|',
      '001099000001|NGUYEN VAN A|1990-01-01|a b c|Q|',
      CCCD_1
    ]) {
      expect(parseNationalQr(bad), bad).toBeNull();
    }
  });
});

describe('every reader on malformed input', () => {
  const junk = [
    '',
    '\0',
    '\0\0\0\0',
    '   ',
    '|',
    '||||||',
    '|||||||||||||||||',
    'garbage',
    '😀|😀|😀|😀|😀|😀|😀',
    '\uFFFD\uD800|x',
    HUGE,
    '001099000001|' + 'x'.repeat(100_000) + '|a|b|c|d|e',
    BHYT_OLD_1.slice(0, 60)
  ];

  it('returns null and never throws', () => {
    for (const text of junk) {
      for (const parse of ALL) expect(parse(text), `${parse.name}(${text.slice(0, 30)})`).toBeNull();
    }
  });

  it('answers 100 kB quickly', () => {
    const start = performance.now();
    for (const parse of ALL) parse(HUGE);
    expect(performance.now() - start).toBeLessThan(200);
  });
});
