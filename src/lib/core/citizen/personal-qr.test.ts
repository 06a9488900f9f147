import { describe, expect, it } from 'vitest';
import QRCode from 'qrcode';
import {
  encodePersonalQr,
  parsePersonalQr,
  personFromPersonalQr,
  PERSONAL_QR_PREFIX,
  SYMPTOMS,
  type HealthDeclaration,
  type PersonalQrData
} from './personal-qr';

const declaration: HealthDeclaration = {
  selfDeclared: true,
  date: '2021-09-15',
  symptoms: ['fever', 'cough', 'fatigue'],
  contactWithCase: false,
  travelledUnits: ['18070', '18073', '42'],
  vaccineDoses: 2
};

// A Vietnamese name of 25 characters.
const NAME_25 = 'Nguyễn Thị Phương Hoa Anh';

const typical: PersonalQrData = {
  name: NAME_25,
  phone: '0912345678',
  birthYear: 1987,
  communeCode: '18070',
  idNumber: '042187000123',
  declaration
};

const TYPICAL_CODE = 'LVP1|Nguyễn Thị Phương Hoa Anh|0912345678|1987|18070|042187000123|TK|2021-09-15|FCT|0|18070,18073,42|2';

function qrVersion(text: string): number {
  return QRCode.create(text, { errorCorrectionLevel: 'M' }).version;
}

describe('personal QR', () => {
  it('writes the documented layout', () => {
    expect([...NAME_25]).toHaveLength(25);
    expect(encodePersonalQr(typical)).toBe(TYPICAL_CODE);
    expect(encodePersonalQr({ name: 'Lê Văn Thử', phone: '0387654321', birthYear: 1960 })).toBe('LVP1|Lê Văn Thử|0387654321|1960||');
  });

  it('round-trips with and without a declaration', () => {
    expect(parsePersonalQr(encodePersonalQr(typical))).toEqual(typical);
    const bare: PersonalQrData = { name: 'Lê Văn Thử', phone: '0387654321', birthYear: 1960 };
    expect(parsePersonalQr(encodePersonalQr(bare))).toEqual(bare);
    const noSymptoms: PersonalQrData = {
      ...bare,
      declaration: { selfDeclared: true, date: '2021-10-01', symptoms: [], contactWithCase: true, travelledUnits: [], vaccineDoses: 0 }
    };
    expect(encodePersonalQr(noSymptoms)).toBe('LVP1|Lê Văn Thử|0387654321|1960|||TK|2021-10-01||1||0');
    expect(parsePersonalQr(encodePersonalQr(noSymptoms))).toEqual(noSymptoms);
    const allSymptoms: PersonalQrData = { ...bare, declaration: { ...declaration, symptoms: [...SYMPTOMS].reverse() } };
    expect(parsePersonalQr(encodePersonalQr(allSymptoms))?.declaration?.symptoms).toEqual([...SYMPTOMS]);
  });

  it('escapes | and \\ in the name', () => {
    const odd: PersonalQrData = { name: 'Trần | Văn \\ B|', phone: '0987654321', birthYear: 2001 };
    const code = encodePersonalQr(odd);
    expect(code).toBe('LVP1|Trần \\| Văn \\\\ B\\||0987654321|2001||');
    expect(parsePersonalQr(code)).toEqual(odd);
  });

  it('normalises what a form gives: phone formats, spacing, NFD, empty optional fields, symptom order', () => {
    const code = encodePersonalQr({
      name: '  Nguyễn   Văn A '.normalize('NFD'),
      phone: '+84 912.345-678',
      birthYear: 1990,
      communeCode: '',
      idNumber: ' ',
      declaration: { ...declaration, symptoms: ['fatigue', 'fever', 'fatigue'] }
    });
    expect(code.startsWith('LVP1|Nguyễn Văn A|0912345678|1990|||TK|2021-09-15|FT|')).toBe(true);
  });

  it('refuses invalid data with a clear message', () => {
    const cases: [Partial<PersonalQrData> & Record<string, unknown>, RegExp][] = [
      [{ name: '   ' }, /name: name is required/],
      [{ name: 'A'.repeat(61) }, /at most 60/],
      [{ name: 'A\u0007B' }, /control characters/],
      [{ phone: '024 3825 1234' }, /phone: .*mobile/],
      [{ phone: '12345' }, /phone/],
      [{ birthYear: 1899 }, /birthYear: .*1900/],
      [{ birthYear: 1990.5 }, /whole number/],
      [{ communeCode: '1807' }, /communeCode: commune code must be 5 digits/],
      [{ idNumber: '12345678901' }, /idNumber: .*12 digits/],
      [{ declaration: { ...declaration, date: '2021-02-30' } }, /declaration.date: .*real date/],
      [{ declaration: { ...declaration, vaccineDoses: 5 } }, /at most 4 vaccine doses/],
      [{ declaration: { ...declaration, vaccineDoses: -1 } }, /negative/],
      [{ declaration: { ...declaration, travelledUnits: Array.from({ length: 11 }, (_, i) => String(18000 + i)) } }, /at most 10/],
      [{ declaration: { ...declaration, travelledUnits: ['1'] } }, /administrative unit codes/],
      [{ declaration: { ...declaration, symptoms: ['headache' as never] } }, /symptoms must be among/],
      [{ declaration: { ...declaration, selfDeclared: false as never } }, /selfDeclared/]
    ];
    for (const [change, message] of cases) {
      expect(() => encodePersonalQr({ ...typical, ...change }), JSON.stringify(change)).toThrow(message);
    }
  });

  it('tolerates scanner noise and caps lock on the prefix', () => {
    expect(parsePersonalQr(`  ${TYPICAL_CODE}\0\r\n`)).toEqual(typical);
    expect(parsePersonalQr(TYPICAL_CODE.replace('LVP1', 'lvp1').replace('|TK|', '|tk|').replace('|FCT|', '|fct|'))).toEqual(typical);
  });

  it('refuses anything that is not a well-formed LVP1 code, without throwing', () => {
    const replace = (from: string, to: string) => TYPICAL_CODE.replace(from, to);
    for (const bad of [
      '',
      '\0\0',
      'LVP1|',
      'LVP1',
      'LVP2|Nguyễn Văn A|0912345678|1990||', // a later version
      'LVP1|Nguyễn Văn A|0912345678|1990|', // 4 fields
      'LVP1|Nguyễn Văn A|0912345678|1990|||', // 6 fields
      'LVP1|Nguyễn Văn A\\x|0912345678|1990||', // unknown escape
      'LVP1|Nguyễn Văn A\\', // escape at the end
      'LVP1||0912345678|1990||', // no name
      replace('0912345678', '+84912345678'), // the code holds the normalised phone only
      replace('0912345678', '0212345678'),
      replace('|1987|', '|87|'),
      replace('|18070|0421', '|1807|0421'),
      replace('042187000123', '04218700012'),
      replace('|TK|', '|XX|'),
      replace('2021-09-15', '2021-9-15'),
      replace('2021-09-15', '2021-02-29'),
      replace('|FCT|', '|FCX|'),
      replace('|FCT|', '|FFT|'),
      replace('|0|18070', '|2|18070'),
      replace('18070,18073,42', '18070,,42'),
      replace('18070,18073,42', Array.from({ length: 11 }, (_, i) => String(18000 + i)).join(',')), // 11 units
      TYPICAL_CODE.replace(/\|2$/, '|5'),
      TYPICAL_CODE.replace(/\|2$/, '|'),
      TYPICAL_CODE + '|extra',
      'LVP1|' + 'x|'.repeat(50_000),
      '001099000001|000000001|Nguyễn Văn A|01011990|Nam|Số 1|15042021',
      'https://example.com/LVP1|x'
    ]) {
      expect(parsePersonalQr(bad), bad).toBeNull();
    }
  });

  it('gives the PersonRecord a station stores', () => {
    expect(personFromPersonalQr(typical)).toEqual({
      source: 'personal-qr',
      name: NAME_25,
      phone: '0912345678',
      birthYear: 1987,
      communeCode: '18070',
      idNumber: '042187000123'
    });
    expect(personFromPersonalQr({ name: 'A B', phone: '0912345678', birthYear: 2000 })).toEqual({
      source: 'personal-qr',
      name: 'A B',
      phone: '0912345678',
      birthYear: 2000
    });
  });

  it('starts with a prefix no ID card code can have', () => {
    expect(PERSONAL_QR_PREFIX).toBe('LVP1|');
    expect(/^[0-9]/.test(PERSONAL_QR_PREFIX)).toBe(false);
    expect(/^[A-Z]{2}[0-9]/.test(PERSONAL_QR_PREFIX)).toBe(false);
  });

  it('fits a typical code in a version 10 QR at level M, and a heavy one too', () => {
    expect(qrVersion(TYPICAL_CODE)).toBeLessThanOrEqual(10);
    // 60 characters, nearly every word with marks: 84 bytes of UTF-8.
    const HEAVY_NAME = 'Đặng Hoàng Phương Nguyễn Thị Bảo Ngọc Trường Xuân Khải Đức Ý';
    expect([...HEAVY_NAME]).toHaveLength(60);
    const heavy = encodePersonalQr({
      ...typical,
      name: HEAVY_NAME,
      declaration: { ...declaration, symptoms: [...SYMPTOMS], travelledUnits: Array.from({ length: 10 }, (_, i) => String(18070 + i)) }
    });
    expect(qrVersion(heavy)).toBeLessThanOrEqual(10);
  });
});
