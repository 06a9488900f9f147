/**
 * Readers for the QR codes on Vietnamese ID documents, as scanned at a station: the chip ID card
 * (CCCD), the health insurance card (BHYT) and the uncertain 2021 national personal QR.
 * Layouts and fake test vectors: shared/formats/vn-id-qr.md.
 *
 * Every reader is tolerant of what scanners add (NULs, spaces, a trailing `$`, upper case) and
 * never throws; a payload that does not fit its layout is refused (null), never half-guessed,
 * so the station asks for a rescan instead of storing a wrong name.
 */
import { foldVietnamese } from './text';
import type { PersonRecord } from './person';

/** A QR code holds at most 2,953 bytes of text; anything longer was not read from one. */
const MAX_CODE_LENGTH = 4000;
const CONTROL = /\p{Cc}/u;
const HEX = /^[0-9a-f]+$/i;
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Scanners add NULs and spaces (and a newline for the Enter key) around and inside fields. */
function tidy(text: string): string {
  return text.replace(/\0/g, '').trim();
}

function fieldsOf(text: string): string[] | null {
  const clean = tidy(text);
  if (!clean || clean.length > MAX_CODE_LENGTH) return null;
  return clean.split('|').map(tidy);
}

interface BirthDate {
  /** 'YYYY-MM-DD', only when the day and month are known. */
  date?: string;
  year: number;
}

function isoDate(year: number, month: number, day: number): string | null {
  if (month < 1 || month > 12 || day < 1) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** Years a living person's (or a card's) date can have; outside is a damaged field. */
function plausibleYear(year: number): boolean {
  return year >= 1900 && year <= 2100;
}

/** ddMMyyyy (CCCD) or dd/MM/yyyy (BHYT); both also come as MM[/]yyyy or yyyy alone. */
function readDate(field: string, separator: '' | '/'): BirthDate | null {
  const s = separator === '/' ? '\\/' : '';
  const m = new RegExp(`^(?:(?:([0-9]{2})${s})?([0-9]{2})${s})?([0-9]{4})$`).exec(field);
  if (!m) return null;
  const [, dd, mm, yyyy] = m;
  const year = Number(yyyy);
  if (!plausibleYear(year)) return null;
  if (mm === undefined) return { year };
  const month = Number(mm);
  if (month < 1 || month > 12) return null;
  if (dd === undefined) return { year };
  const date = isoDate(year, month, Number(dd));
  return date ? { date, year } : null;
}

function birthOf(birth: BirthDate): Pick<PersonRecord, 'birthDate' | 'birthYear'> {
  return birth.date ? { birthDate: birth.date, birthYear: birth.year } : { birthYear: birth.year };
}

/** A name has letters, no digits, no control characters. */
function plausibleName(name: string): boolean {
  return /\p{L}/u.test(name) && !/[0-9]/.test(name) && !CONTROL.test(name);
}

// ---------------------------------------------------------------------------------------------
// CCCD

/**
 * The back-side QR of a chip ID card:
 * `số CCCD|số CMND cũ|họ tên|ngày sinh|giới tính|nơi thường trú|ngày cấp`, plain UTF-8.
 * Split on `|` only: the address has commas.
 */
export function parseCccd(text: string): PersonRecord | null {
  const fields = fieldsOf(text);
  if (!fields || fields.length < 7) return null;
  const [idNumber = '', oldId = '', rawName = '', birthField = '', genderField = '', rawAddress = ''] = fields;
  if (!/^[0-9]{12}$/.test(idNumber)) return null;
  // The old CMND had 9 digits (12 for those issued 2012–2016); often missing.
  if (oldId !== '' && !/^(?:[0-9]{9}|[0-9]{12})$/.test(oldId)) return null;
  const name = rawName.normalize('NFC');
  if (!plausibleName(name)) return null;
  const birth = readDate(birthField, '');
  if (!birth) return null;
  const gender = cccdGender(genderField);
  if (gender === null) return null;
  const address = rawAddress.normalize('NFC');
  if (CONTROL.test(address)) return null;
  return {
    source: 'cccd',
    name,
    idNumber,
    ...(oldId ? { oldIdNumber: oldId } : {}),
    ...birthOf(birth),
    ...(gender ? { gender } : {}),
    ...(address ? { address } : {})
  } satisfies PersonRecord;
}

/** "Nam" / "Nữ" in any case or accent state; undefined when empty, null when it is something else. */
function cccdGender(field: string): PersonRecord['gender'] | null {
  const folded = foldVietnamese(field);
  if (folded === '') return undefined;
  if (folded === 'nam') return 'male';
  if (folded === 'nu') return 'female';
  return null;
}

// ---------------------------------------------------------------------------------------------
// BHYT

export interface BhytCard {
  /** 'old': the paper card with a 15-character number; 'new': the 2021+ card with the 10-digit BHXH number. */
  layout: 'old' | 'new';
  /** Card number (2 upper-case letters + 13 digits) or the 10-digit social insurance number. */
  cardNumber: string;
  name: string;
  birth: BirthDate;
  gender?: 'male' | 'female';
  address?: string;
  /** Registered primary care facility, "79 - 012" read as "79012". */
  clinicCode?: string;
  validFrom?: string;
  validTo?: string;
  /** On children's (TE) cards. */
  parentName?: string;
  /** Newer cards: where the card was issued. */
  issuePlace?: string;
}

export type BhytRead =
  | { ok: true; card: BhytCard }
  /**
   * 'not-bhyt': another kind of code. 'damaged': shaped like a BHYT code but a field the station
   * needs does not read. 'ime-mangled': a Vietnamese input method on the scanner's computer
   * rewrote the hex (E -> Ê …); the station must switch the keyboard to English and rescan.
   */
  | { ok: false; reason: 'not-bhyt' | 'damaged' | 'ime-mangled' };

type FieldRead = { ok: true; value?: string } | { ok: false; fault: 'damaged' | 'ime-mangled' };

/**
 * Telex/VNI input methods turn the letters of a hex field into Vietnamese ones ("E" -> "Ê",
 * "EA" -> "Ê", "DD" -> "Đ", "AF" -> "À"): stripped of its marks such a field is hex again. Going
 * back is ambiguous (Ê may have been E, EE or EA), so it is detected and refused, never repaired.
 */
function looksImeMangled(field: string): boolean {
  if (!/[^\x00-\x7f]/.test(field) || !/[0-9]/.test(field)) return false;
  return HEX.test(foldVietnamese(field));
}

/**
 * A BHYT text field: hex of UTF-8 (either case), `-` for none. A field that is not hex is taken as
 * the text itself, as some issuers wrote it, unless it is a single run of letters and digits,
 * which is hex gone wrong.
 */
function readHexText(field: string): FieldRead {
  if (field === '' || field === '-') return { ok: true };
  if (HEX.test(field)) {
    if (field.length % 2 !== 0) return { ok: false, fault: 'damaged' };
    const bytes = new Uint8Array(field.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(field.slice(2 * i, 2 * i + 2), 16);
    let decoded: string;
    try {
      decoded = utf8Strict.decode(bytes);
    } catch {
      return { ok: false, fault: 'damaged' };
    }
    const value = tidy(decoded).normalize('NFC');
    if (CONTROL.test(value)) return { ok: false, fault: 'damaged' };
    return value ? { ok: true, value } : { ok: true };
  }
  if (looksImeMangled(field)) return { ok: false, fault: 'ime-mangled' };
  if (/^[0-9a-z]+$/i.test(field) || CONTROL.test(field)) return { ok: false, fault: 'damaged' };
  return { ok: true, value: field.normalize('NFC') };
}

/**
 * The BHYT card QR. Both layouts share fields [0]–[9]:
 * `mã thẻ|họ tên (hex)|ngày sinh|giới tính 1/2|địa chỉ (hex)|nơi ĐKKCB|từ|đến|ngày cấp|mã quản lý|…|$`.
 * Fields the station stores (number, name, birth, gender, address) must read; the others are
 * kept when they read and dropped when they do not.
 */
export function readBhyt(text: string): BhytRead {
  const clean = tidy(text);
  if (!clean || clean.length > MAX_CODE_LENGTH) return { ok: false, reason: 'not-bhyt' };
  // The code ends in "|$"; some scanners drop the "$" or leave NULs after it.
  const body = clean.replace(/\|?\s*\$$/, '');
  const fields = body.split('|').map(tidy);
  const number = fields[0] ?? '';
  let layout: BhytCard['layout'];
  if (/^[0-9]{10}$/.test(number)) layout = 'new';
  else if (/^[a-z]{2}[0-9]{13}$/i.test(number)) layout = 'old';
  else return { ok: false, reason: 'not-bhyt' };
  // 14 fields before the "$" on old cards, 16 on new ones; fewer is a cut-off or other code.
  if (fields.length < (layout === 'old' ? 14 : 16)) return { ok: false, reason: 'not-bhyt' };
  const [, nameField = '', birthField = '', genderField = '', addressField = '', clinicField = '', fromField = '', toField = ''] =
    fields;

  const name = readHexText(nameField);
  if (!name.ok) return { ok: false, reason: name.fault };
  if (!name.value || !plausibleName(name.value)) return { ok: false, reason: 'damaged' };
  const address = readHexText(addressField);
  if (!address.ok) return { ok: false, reason: address.fault };
  const birth = readDate(birthField, '/');
  if (!birth) return { ok: false, reason: 'damaged' };
  let gender: BhytCard['gender'];
  if (genderField === '1') gender = 'male';
  else if (genderField === '2') gender = 'female';
  else if (genderField !== '' && genderField !== '-') return { ok: false, reason: 'damaged' };

  const clinic = clinicField.replace(/[\s-]/g, '');
  const validFrom = readDate(fromField, '/')?.date;
  const validTo = readDate(toField, '/')?.date;
  const parent = readHexText(fields[10] ?? '');
  const issuePlace = layout === 'new' ? readHexText(fields[15] ?? '') : undefined;
  const card: BhytCard = {
    layout,
    cardNumber: number.toUpperCase(),
    name: name.value,
    birth,
    ...(gender ? { gender } : {}),
    ...(address.value ? { address: address.value } : {}),
    ...(/^[0-9]{5}$/.test(clinic) ? { clinicCode: clinic } : {}),
    ...(validFrom ? { validFrom } : {}),
    ...(validTo ? { validTo } : {}),
    ...(parent.ok && parent.value ? { parentName: parent.value } : {}),
    ...(issuePlace?.ok && issuePlace.value ? { issuePlace: issuePlace.value } : {})
  };
  return { ok: true, card };
}

export function parseBhyt(text: string): PersonRecord | null {
  const read = readBhyt(text);
  if (!read.ok) return null;
  const { card } = read;
  return {
    source: 'bhyt',
    name: card.name,
    insuranceNumber: card.cardNumber,
    ...birthOf(card.birth),
    ...(card.gender ? { gender: card.gender } : {}),
    ...(card.address ? { address: card.address } : {})
  } satisfies PersonRecord;
}

// ---------------------------------------------------------------------------------------------
// National personal QR (2021, unconfirmed)

/**
 * `SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT` as reported for the 2021 national personal QR:
 * ID number possibly masked with `*`, name in upper case without diacritics, birth date
 * YYYY-MM-DD with day and month possibly masked. The layout is not confirmed, so only a code
 * that fits it in every field is taken, and masked parts are left out rather than filled in.
 */
export function parseNationalQr(text: string): PersonRecord | null {
  const fields = fieldsOf(text);
  if (!fields || fields.length !== 6) return null;
  const [idField = '', rawName = '', birthField = '', kind = '', qid = '', ext = ''] = fields;
  if (!/^[0-9*]+$/.test(idField) || (idField.length !== 9 && idField.length !== 12)) return null;
  const name = rawName.normalize('NFC').replace(/\s+/g, ' ');
  if (!/^[\p{L} .'-]+$/u.test(name) || !/\p{L}/u.test(name)) return null;
  const birth = /^([0-9]{4})-([0-9]{2}|\*\*)-([0-9]{2}|\*\*)$/.exec(birthField);
  if (!birth) return null;
  const [, yyyy = '', mm = '', dd = ''] = birth;
  const year = Number(yyyy);
  if (!plausibleYear(year)) return null;
  let birthDate: string | undefined;
  if (mm !== '**' && dd !== '**') {
    const date = isoDate(year, Number(mm), Number(dd));
    if (!date) return null;
    birthDate = date;
  } else if (mm !== '**' && (Number(mm) < 1 || Number(mm) > 12)) return null;
  // The last three fields are opaque; they only have to look like short codes.
  if (!/^[\p{L}\p{N}_-]{0,20}$/u.test(kind)) return null;
  if (qid.length > 200 || ext.length > 200 || CONTROL.test(qid) || CONTROL.test(ext)) return null;
  return {
    source: 'national-qr',
    name,
    ...(/^[0-9]+$/.test(idField) ? { idNumber: idField } : {}),
    ...(birthDate ? { birthDate } : {}),
    birthYear: year
  } satisfies PersonRecord;
}
