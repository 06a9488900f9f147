import { describe, expect, it } from 'vitest';
import { checkProfile, declarationExpired, isDeclarationCurrent, personalQrData } from './profile';
import { encodePersonalQr, parsePersonalQr, type HealthDeclaration } from './personal-qr';
import { at } from '../testing';

const profile = { name: '  Nguyễn   Thị Hoa ', phone: '0912 345 678', birthYear: 1968, communeCode: '18070', idNumber: '' };
const declaration: HealthDeclaration = { selfDeclared: true, date: '2021-08-20', symptoms: ['cough'], contactWithCase: false, travelledUnits: ['42', '18073'], vaccineDoses: 1 };

describe('the citizen profile', () => {
  it('tidies what was typed, and names the first wrong field', () => {
    expect(checkProfile(profile)).toEqual({ ok: true, profile: { name: 'Nguyễn Thị Hoa', phone: '0912345678', birthYear: 1968, communeCode: '18070' } });
    expect(checkProfile({ ...profile, name: ' ' })).toEqual({ ok: false, field: 'name' });
    expect(checkProfile({ ...profile, phone: '12345' })).toEqual({ ok: false, field: 'phone' });
    expect(checkProfile({ ...profile, birthYear: 1800 })).toEqual({ ok: false, field: 'birthYear' });
    expect(checkProfile({ ...profile, idNumber: '1234' })).toEqual({ ok: false, field: 'idNumber' });
  });

  it('makes a personal QR with the latest declaration that a station reads back', () => {
    const checked = checkProfile(profile);
    if (!checked.ok) throw new Error('profile should be valid');
    const text = encodePersonalQr(personalQrData(checked.profile, declaration));
    expect(parsePersonalQr(text)).toEqual({ ...checked.profile, declaration });
    expect(parsePersonalQr(encodePersonalQr(personalQrData(checked.profile, null)))).toEqual(checked.profile);
  });

  it('calls a declaration current on its own day (Vietnam time) and drops it after 14 days', () => {
    expect(isDeclarationCurrent(declaration, at('2021-08-20', '23:59'))).toBe(true);
    expect(isDeclarationCurrent(declaration, at('2021-08-21', '00:00'))).toBe(false);
    expect(declarationExpired(declaration, at('2021-09-03', '12:00'))).toBe(false);
    expect(declarationExpired(declaration, at('2021-09-04', '12:00'))).toBe(true);
  });
});
