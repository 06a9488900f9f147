/**
 * A person as read at a scan station or checkpoint: from this app's personal QR, a chip ID card
 * (CCCD), a health insurance card (BHYT), the 2021 national personal QR, or typed in by hand.
 * What a station stores in a StationEntry; identifying data, so it lives only in the commune's
 * database and is deleted after the retention period (DESIGN §3).
 */

export type PersonSource = 'personal-qr' | 'cccd' | 'bhyt' | 'national-qr' | 'manual';

export interface PersonRecord {
  source: PersonSource;
  /** Full name as read (with diacritics when the code has them). */
  name: string;
  /** CCCD (12 digits) or CMND (9 digits) number. */
  idNumber?: string;
  /** The older CMND number printed beside a CCCD number. */
  oldIdNumber?: string;
  /** Health insurance card number (15 characters) or social insurance number (10 digits). */
  insuranceNumber?: string;
  phone?: string;
  /** 'YYYY-MM-DD' when the code gives a full date. */
  birthDate?: string;
  birthYear?: number;
  gender?: 'male' | 'female';
  address?: string;
  /** Administrative unit code of the commune the person lives in, when known. */
  communeCode?: string;
}
