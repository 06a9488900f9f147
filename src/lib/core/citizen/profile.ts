/**
 * The citizen's own profile and health declarations (khai báo y tế), kept on the phone only and
 * shown as the personal QR (personal-qr.ts). Rules here; storage in $lib/client/profile.ts.
 */
import { dayKey, DAY } from '../time';
import { checkPersonalData, type HealthDeclaration, type PersonalQrData } from './personal-qr';

export type Profile = Omit<PersonalQrData, 'declaration'>;
export type ProfileField = 'name' | 'phone' | 'birthYear' | 'communeCode' | 'idNumber';

export type ProfileCheck = { ok: true; profile: Profile } | { ok: false; field: ProfileField };

/** The profile as it will be stored and encoded, or the first field that is wrong. */
export function checkProfile(input: Profile): ProfileCheck {
  const checked = checkPersonalData(input);
  if (checked.ok) return { ok: true, profile: checked.data };
  const field = checked.path.split('.')[0] as ProfileField;
  return { ok: false, field };
}

/**
 * A declaration speaks for the day it was made: checkpoints in 2021 asked for one per trip, and a
 * station shows its date. The app calls it current on that day and flags it from the next.
 */
export function isDeclarationCurrent(declaration: Pick<HealthDeclaration, 'date'>, now: number): boolean {
  return declaration.date === dayKey(now);
}

/** Declarations are kept for the 14 days a tracer asks about, no longer. */
export const DECLARATION_KEEP_DAYS = 14;

export function declarationExpired(declaration: Pick<HealthDeclaration, 'date'>, now: number): boolean {
  return declaration.date < dayKey(now - DECLARATION_KEEP_DAYS * DAY);
}

/** The code to show: the profile with the latest declaration, if there is one. */
export function personalQrData(profile: Profile, latest: HealthDeclaration | null): PersonalQrData {
  return latest ? { ...profile, declaration: latest } : { ...profile };
}
