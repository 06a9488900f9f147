import { describe, expect, it } from 'vitest';
import type { PersonRecord } from '../person';
import { encodePersonalQr, type PersonalQrData } from '../citizen/personal-qr';
import { normalizePhone, readStationCode, samePerson } from './station-scan';
import { checkinUrl } from './venue-token';
import { newSigningKey, signVenueToken } from './venue-signing';

const CCCD =
  '001099000001|000000001|Nguyễn Văn A|01011990|Nam|Số 1 Đường Thử Nghiệm, Phường Mẫu, Quận 1, TP. Hồ Chí Minh|15042021';
const BHYT_NEW =
  '0100000001|4cc3aa2056c4836e205468e1bbad|15/08/1985|1|-|01 - 001|01/01/2024|-|02/01/2024|01050100000001|-|4| 01/01/2029|0000000000000000-0000|4|5175e1baad6e204de1baab752c205468c3a06e68207068e1bb91204769e1baa320c490e1bb8b6e68|$';
const BHYT_OLD =
  'TE1790000000002|5472e1baa76e205468e1bb8b2042c3a9|05/06/2019|2|5468c3b46e204de1baab752c2058c3a3205468e1bbad2c2054e1bb896e68204769e1baa320c490e1bb8b6e68|79 - 022|05/06/2019|04/06/2025|10/06/2019|790000000002|5472e1baa76e2056c4836e20436861|4|-|0000000000000000-0000|$';

const citizen: PersonalQrData = {
  name: 'Phạm Thị Hương',
  phone: '0978123456',
  birthYear: 1975,
  communeCode: '18070',
  declaration: {
    selfDeclared: true,
    date: '2021-09-20',
    symptoms: ['cough'],
    contactWithCase: true,
    travelledUnits: ['18073'],
    vaccineDoses: 1
  }
};

describe('readStationCode', () => {
  it("reads this app's personal QR with its declaration", () => {
    expect(readStationCode(encodePersonalQr(citizen))).toEqual({
      ok: true,
      person: { source: 'personal-qr', name: 'Phạm Thị Hương', phone: '0978123456', birthYear: 1975, communeCode: '18070' },
      declaration: citizen.declaration
    });
    const bare = readStationCode(encodePersonalQr({ name: 'A B', phone: '0912345678', birthYear: 2000 }));
    expect(bare).toEqual({ ok: true, person: { source: 'personal-qr', name: 'A B', phone: '0912345678', birthYear: 2000 } });
    expect('declaration' in bare).toBe(false);
  });

  it('reads CCCD, BHYT and national codes', () => {
    const cccd = readStationCode(CCCD + '\0');
    expect(cccd.ok && cccd.person).toMatchObject({ source: 'cccd', name: 'Nguyễn Văn A', idNumber: '001099000001' });
    const bhyt = readStationCode(BHYT_NEW.toUpperCase());
    expect(bhyt.ok && bhyt.person).toMatchObject({ source: 'bhyt', name: 'Lê Văn Thử', insuranceNumber: '0100000001' });
    const child = readStationCode(BHYT_OLD);
    expect(child.ok && child.person).toMatchObject({ source: 'bhyt', name: 'Trần Thị Bé', insuranceNumber: 'TE1790000000002' });
    const national = readStationCode('0010990*****|NGUYEN VAN A|1990-**-**|1|Q1|');
    expect(national).toEqual({ ok: true, person: { source: 'national-qr', name: 'NGUYEN VAN A', birthYear: 1990 } });
  });

  it('tells a venue check-in code apart, as a URL or a bare token', () => {
    const token = signVenueToken({ venueId: 'abcdefghij23', name: 'Chợ Đức Thọ', communeCode: '18070', venueType: 'market' }, newSigningKey('4821'));
    const url = checkinUrl('https://luuvet.example.vn', token);
    const fromUrl = readStationCode(url);
    expect(fromUrl).toMatchObject({ ok: false, reason: 'venue-code' });
    expect(!fromUrl.ok && fromUrl.preview).toBe(url.slice(0, 60) + '…');
    expect(readStationCode(token)).toMatchObject({ ok: false, reason: 'venue-code' });
  });

  it('calls other web addresses links', () => {
    expect(readStationCode('https://example.com/some/page')).toEqual({ ok: false, reason: 'link', preview: 'https://example.com/some/page' });
    expect(readStationCode('HTTP://EXAMPLE.COM')).toMatchObject({ ok: false, reason: 'link' });
    expect(readStationCode('ftp://example.com/file')).toMatchObject({ ok: false, reason: 'unknown' });
  });

  it('reports empty scans', () => {
    for (const empty of ['', '   ', '\0', '\0\0\0\0', '\r\n']) {
      expect(readStationCode(empty)).toEqual({ ok: false, reason: 'empty', preview: '' });
    }
  });

  it('answers anything else with a short one-line preview', () => {
    expect(readStationCode('hello')).toEqual({ ok: false, reason: 'unknown', preview: 'hello' });
    expect(readStationCode('line one\nline\ttwo')).toEqual({ ok: false, reason: 'unknown', preview: 'line one line two' });
    const long = readStationCode('Đ'.repeat(61));
    expect(long).toEqual({ ok: false, reason: 'unknown', preview: 'Đ'.repeat(60) + '…' });
    expect(readStationCode('Đ'.repeat(60))).toEqual({ ok: false, reason: 'unknown', preview: 'Đ'.repeat(60) });
    const emoji = readStationCode('😀'.repeat(100));
    expect(!emoji.ok && [...emoji.preview]).toHaveLength(61); // never cuts a character in half
  });

  it('never throws on malformed codes', () => {
    const huge = 'x|'.repeat(50_000);
    for (const text of [
      huge,
      'LVP1|' + huge,
      '001099000001|' + huge,
      CCCD.split('|').slice(0, 6).join('|'),
      BHYT_NEW.replace('4cc3aa', '4cc3a'),
      BHYT_NEW.replace('4cc3aa', '4cc3zz'),
      BHYT_NEW.toUpperCase().replace('4CC3AA2056C4836E', '4CC3AA2056C4836Ê'),
      'LVP1|broken',
      '\uD800',
      '|||||||'
    ]) {
      const read = readStationCode(text);
      expect(read.ok, text.slice(0, 40)).toBe(false);
      expect(!read.ok && read.reason).toBe('unknown');
      expect(!read.ok && [...read.preview].length).toBeLessThanOrEqual(61);
    }
  });
});

describe('normalizePhone', () => {
  it('accepts the usual ways of writing a mobile number', () => {
    for (const written of [
      '0912345678',
      '0912 345 678',
      '0912.345.678',
      '0912-345-678',
      '+84912345678',
      '+84 912 345 678',
      '(+84) 912-345-678',
      '84912345678',
      '0084912345678',
      '+84 0912 345 678',
      ' 0912345678 '
    ]) {
      expect(normalizePhone(written), written).toBe('0912345678');
    }
    for (const prefix of ['03', '05', '07', '08', '09']) expect(normalizePhone(prefix + '12345678')).toBe(prefix + '12345678');
  });

  it('refuses what is not a Vietnamese mobile number', () => {
    for (const bad of [
      '',
      '912345678', // no prefix: not guessed
      '091234567',
      '09123456789',
      '02438251234', // landline
      '01212345678', // old 11-digit mobile
      '0112345678',
      '+1 912 345 678',
      '+8491234567',
      '0912a45678',
      '0912_345_678',
      '++84912345678'
    ]) {
      expect(normalizePhone(bad), bad).toBeNull();
    }
  });
});

describe('samePerson', () => {
  const base: PersonRecord = { source: 'manual', name: 'Nguyễn Văn An', birthYear: 1990 };

  it('matches on a shared ID number, including the old CMND beside a CCCD', () => {
    expect(samePerson({ ...base, idNumber: '001099000001' }, { ...base, source: 'cccd', name: 'X', idNumber: '001099000001' })).toBe(true);
    expect(
      samePerson({ ...base, source: 'cccd', idNumber: '001099000001', oldIdNumber: '000000001' }, { ...base, idNumber: '000000001' })
    ).toBe(true);
    expect(samePerson({ ...base, idNumber: '001099000001' }, { ...base, idNumber: '001099000002' })).toBe(false);
  });

  it('matches on the insurance number, in any case', () => {
    expect(samePerson({ ...base, insuranceNumber: 'DN4790000000001' }, { ...base, name: 'Y', insuranceNumber: 'dn4790000000001' })).toBe(true);
    expect(samePerson({ ...base, insuranceNumber: 'DN4790000000001' }, { ...base, insuranceNumber: 'DN4790000000002' })).toBe(false);
  });

  it('takes an equal phone as the same person only with the same name (families share phones)', () => {
    expect(samePerson({ ...base, phone: '0912345678' }, { ...base, name: 'NGUYEN VAN AN', phone: '+84 912 345 678', birthYear: undefined })).toBe(true);
    expect(samePerson({ ...base, phone: '0912345678' }, { ...base, name: 'Nguyễn Văn Bình', phone: '0912345678' })).toBe(false);
    // Two people with one of the most common names and the same birth year, but different phones.
    expect(samePerson({ ...base, phone: '0912345678' }, { ...base, phone: '0987654321' })).toBe(false);
  });

  it('falls back to name and birth year, ignoring case, accents and spacing', () => {
    expect(samePerson(base, { ...base, source: 'national-qr', name: '  NGUYEN  van an ' })).toBe(true);
    expect(samePerson(base, { ...base, name: 'Nguyễn Văn Ân' })).toBe(true);
    expect(samePerson(base, { ...base, birthYear: 1991 })).toBe(false);
    expect(samePerson(base, { ...base, name: 'Nguyễn Văn Anh' })).toBe(false);
    expect(samePerson({ ...base, birthYear: undefined }, { ...base, birthYear: undefined })).toBe(false);
    expect(samePerson({ ...base, name: '' }, { ...base, name: '  ' })).toBe(false);
  });

  it('uses the name when the two reads carry different kinds of number (a personal QR, then the CCCD)', () => {
    const personal: PersonRecord = { source: 'personal-qr', name: 'Nguyễn Văn A', phone: '0912345678', birthYear: 1990 };
    const cccd: PersonRecord = { source: 'cccd', name: 'Nguyễn Văn A', idNumber: '001099000001', birthYear: 1990, birthDate: '1990-01-01' };
    expect(samePerson(personal, cccd)).toBe(true);
    expect(samePerson(cccd, personal)).toBe(true);
    expect(samePerson(personal, { ...cccd, birthYear: 1989 })).toBe(false);
  });

  it('is symmetric on a mixed set of records', () => {
    const records: PersonRecord[] = [
      base,
      { ...base, phone: '0912345678' },
      { ...base, phone: '0987654321' },
      { ...base, idNumber: '001099000001' },
      { ...base, insuranceNumber: 'DN4790000000001' },
      { ...base, name: 'Trần Thị B' },
      { source: 'national-qr', name: 'NGUYEN VAN AN', birthYear: 1990 }
    ];
    for (const a of records) for (const b of records) expect(samePerson(a, b)).toBe(samePerson(b, a));
    for (const a of records) expect(samePerson(a, a)).toBe(true);
  });
});
