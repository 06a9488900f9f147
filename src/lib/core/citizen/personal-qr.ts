/**
 * This app's personal QR: what a citizen shows at a scan station, on the phone or printed on
 * paper, so that the station logs them without typing. Read offline by the station; not a URL,
 * because it is not meant to be opened by a camera app, and it carries personal data that has no
 * business in a browser history.
 *
 * Text, `|`-separated, versioned by its prefix:
 *
 *   LVP1|<name>|<phone>|<birth year>|<commune code>|<ID number>
 *   LVP1|<name>|<phone>|<birth year>|<commune code>|<ID number>|TK|<date>|<symptoms>|<contact>|<units>|<doses>
 *
 *   name          free text; `\` and `|` are escaped as `\\` and `\|`
 *   phone         10 digits, 0xxxxxxxxx
 *   birth year    4 digits
 *   commune code  5 digits, or empty
 *   ID number     CCCD (12 digits) or CMND (9 digits), or empty
 *   TK            "tự khai": what follows is the citizen's own latest health declaration
 *   date          the day it was declared, YYYY-MM-DD
 *   symptoms      letters, in this order, for those declared (empty: none): F fever, C cough,
 *                 B shortness of breath, L loss of taste or smell, S sore throat, T fatigue
 *   contact       1 if they declared contact with a case (F0) in the last 14 days, else 0
 *   units         administrative unit codes travelled through, comma-separated (empty: none), at most 10
 *   doses         vaccine doses, 0–4
 *
 * The prefix keeps it apart from a CCCD code (12 digits first) and a BHYT code (card number first).
 * A change of layout gets a new prefix (LVP2); readers refuse what they do not know.
 */
import * as v from 'valibot';
import type { PersonRecord } from '../person';
import { escapeChars, normalizePhone, splitEscaped, unescapeChars } from '../text';
import { UNIT_CODE_PATTERN } from '../venue/venue';

export const PERSONAL_QR_PREFIX = 'LVP1|';
/** A CCCD (12 digits) or CMND (9 digits) number. */
export const ID_NUMBER_PATTERN = /^(?:[0-9]{9}|[0-9]{12})$/;
/** "tự khai" (self-declared): opens the declaration block. */
const DECLARATION_MARK = 'TK';
export const PERSONAL_NAME_MAX = 60;
export const MAX_TRAVEL_UNITS = 10;
export const MAX_VACCINE_DOSES = 4;
/** Far more than any valid code; longer text is refused before it is split. */
const MAX_CODE_LENGTH = 1000;

export const SYMPTOMS = ['fever', 'cough', 'shortness-of-breath', 'taste-smell-loss', 'sore-throat', 'fatigue'] as const;
export type Symptom = (typeof SYMPTOMS)[number];
const SYMPTOM_LETTERS = {
  fever: 'F',
  cough: 'C',
  'shortness-of-breath': 'B',
  'taste-smell-loss': 'L',
  'sore-throat': 'S',
  fatigue: 'T'
} as const satisfies Record<Symptom, string>;

export type HealthDeclaration = {
  /** Always true: what the citizen said about themself, not a test result or a health worker's finding. */
  selfDeclared: true;
  /** The day it was declared, YYYY-MM-DD; the station shows it so a stale declaration is seen as such. */
  date: string;
  /** In the order of SYMPTOMS; empty when none were declared. */
  symptoms: Symptom[];
  contactWithCase: boolean;
  travelledUnits: string[];
  vaccineDoses: number;
};

export type PersonalQrData = {
  name: string;
  phone: string;
  birthYear: number;
  communeCode?: string;
  idNumber?: string;
  declaration?: HealthDeclaration;
};

function isCalendarDate(text: string): boolean {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(text);
  if (!m) return false;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.toISOString().slice(0, 10) === text;
}

const DeclarationSchema = v.object({
  selfDeclared: v.literal(true, 'a declaration must be marked selfDeclared: true'),
  date: v.pipe(v.string(), v.check(isCalendarDate, 'declaration date must be a real date YYYY-MM-DD')),
  symptoms: v.array(v.picklist(SYMPTOMS, `symptoms must be among ${SYMPTOMS.join(', ')}`)),
  contactWithCase: v.boolean(),
  travelledUnits: v.pipe(
    v.array(v.pipe(v.string(), v.regex(UNIT_CODE_PATTERN, 'travelled units must be administrative unit codes (2–5 digits)'))),
    v.maxLength(MAX_TRAVEL_UNITS, `at most ${MAX_TRAVEL_UNITS} travelled units`)
  ),
  vaccineDoses: v.pipe(
    v.number(),
    v.integer('vaccine doses must be a whole number'),
    v.minValue(0, 'vaccine doses cannot be negative'),
    v.maxValue(MAX_VACCINE_DOSES, `at most ${MAX_VACCINE_DOSES} vaccine doses`)
  )
});

/** Optional text fields: a form's empty string means "not given". */
function optionalCode(pattern: RegExp, message: string) {
  return v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check((s) => s === '' || pattern.test(s), message)
    )
  );
}

const PersonalSchema = v.object({
  name: v.pipe(
    v.string(),
    v.transform((s) => s.normalize('NFC').replace(/\s+/g, ' ').trim()),
    v.minLength(1, 'name is required'),
    v.maxLength(PERSONAL_NAME_MAX, `name must be at most ${PERSONAL_NAME_MAX} characters`),
    v.check((s) => !/\p{Cc}/u.test(s), 'name must not contain control characters')
  ),
  phone: v.pipe(
    v.string(),
    v.transform((s) => normalizePhone(s) ?? s),
    v.regex(/^0[35789][0-9]{8}$/, 'phone must be a Vietnamese mobile number (10 digits, 0xxxxxxxxx)')
  ),
  birthYear: v.pipe(
    v.number(),
    v.integer('birth year must be a whole number'),
    v.minValue(1900, 'birth year must be 1900 or later'),
    v.maxValue(2100, 'birth year must be 2100 or earlier')
  ),
  communeCode: optionalCode(/^[0-9]{5}$/, 'commune code must be 5 digits'),
  idNumber: optionalCode(ID_NUMBER_PATTERN, 'ID number must be 12 digits (CCCD) or 9 digits (CMND)'),
  declaration: v.optional(DeclarationSchema)
});

type CheckedData = v.InferOutput<typeof PersonalSchema>;

/** The checked form, without empty optional fields and with symptoms in their fixed order. */
function tidyData(data: CheckedData): PersonalQrData {
  const d = data.declaration;
  return {
    name: data.name,
    phone: data.phone,
    birthYear: data.birthYear,
    ...(data.communeCode ? { communeCode: data.communeCode } : {}),
    ...(data.idNumber ? { idNumber: data.idNumber } : {}),
    ...(d
      ? {
          declaration: {
            selfDeclared: true,
            date: d.date,
            symptoms: SYMPTOMS.filter((s) => d.symptoms.includes(s)),
            contactWithCase: d.contactWithCase,
            travelledUnits: [...d.travelledUnits],
            vaccineDoses: d.vaccineDoses
          }
        }
      : {})
  };
}

const escapeField = (text: string) => escapeChars(text, '|');

/** Splits on unescaped `|`; null when an escape is not one this format writes. */
function splitFields(text: string): string[] | null {
  const fields = splitEscaped(text, '|')?.map((f) => unescapeChars(f, '|'));
  return fields && fields.every((f) => f !== null) ? (fields as string[]) : null;
}

export type PersonalDataCheck = { ok: true; data: PersonalQrData } | { ok: false; path: string; message: string };

/** The data as it will be encoded (trimmed, normalised), or the first field that cannot be. */
export function checkPersonalData(data: PersonalQrData): PersonalDataCheck {
  const checked = v.safeParse(PersonalSchema, data);
  if (checked.success) return { ok: true, data: tidyData(checked.output) };
  const issue = checked.issues[0];
  return { ok: false, path: issue.path?.map((p) => String(p.key)).join('.') ?? '', message: issue.message };
}

/** Throws with a readable message when the data cannot be put in a personal QR. */
export function encodePersonalQr(data: PersonalQrData): string {
  const checked = checkPersonalData(data);
  if (!checked.ok) throw new Error(`personal QR cannot be made: ${checked.path ? checked.path + ': ' : ''}${checked.message}`);
  const p = checked.data;
  const fields = [escapeField(p.name), p.phone, String(p.birthYear), p.communeCode ?? '', p.idNumber ?? ''];
  const d = p.declaration;
  if (d) {
    fields.push(
      DECLARATION_MARK,
      d.date,
      d.symptoms.map((s) => SYMPTOM_LETTERS[s]).join(''),
      d.contactWithCase ? '1' : '0',
      d.travelledUnits.join(','),
      String(d.vaccineDoses)
    );
  }
  return PERSONAL_QR_PREFIX + fields.join('|');
}

const LETTER_SYMPTOMS = new Map<string, Symptom>(SYMPTOMS.map((s) => [SYMPTOM_LETTERS[s], s]));

function readDeclaration(fields: string[]): HealthDeclaration | null {
  const [mark, date = '', letters = '', contact = '', units = '', doses = ''] = fields;
  if (mark?.toUpperCase() !== DECLARATION_MARK) return null;
  const symptoms: Symptom[] = [];
  for (const letter of letters.toUpperCase()) {
    const symptom = LETTER_SYMPTOMS.get(letter);
    if (!symptom || symptoms.includes(symptom)) return null;
    symptoms.push(symptom);
  }
  if (contact !== '0' && contact !== '1') return null;
  if (!/^[0-9]$/.test(doses)) return null;
  return {
    selfDeclared: true,
    date,
    symptoms,
    contactWithCase: contact === '1',
    travelledUnits: units === '' ? [] : units.split(','),
    vaccineDoses: Number(doses)
  };
}

/** Null for anything that is not a well-formed LVP1 code; never throws. */
export function parsePersonalQr(text: string): PersonalQrData | null {
  const clean = text.replace(/\0/g, '').trim();
  if (clean.length > MAX_CODE_LENGTH) return null;
  // Keyboard-wedge scanners with caps lock on flip the case of the prefix.
  if (clean.slice(0, PERSONAL_QR_PREFIX.length).toUpperCase() !== PERSONAL_QR_PREFIX) return null;
  const fields = splitFields(clean.slice(PERSONAL_QR_PREFIX.length));
  if (!fields || (fields.length !== 5 && fields.length !== 11)) return null;
  const [name = '', phone = '', year = '', communeCode = '', idNumber = ''] = fields;
  // Stricter than the encoder's input: the code holds exactly what encodePersonalQr writes.
  if (!/^0[0-9]{9}$/.test(phone) || !/^[0-9]{4}$/.test(year)) return null;
  let declaration: HealthDeclaration | undefined;
  if (fields.length === 11) {
    const read = readDeclaration(fields.slice(5));
    if (!read) return null;
    declaration = read;
  }
  const checked = v.safeParse(PersonalSchema, {
    name,
    phone,
    birthYear: Number(year),
    communeCode,
    idNumber,
    ...(declaration ? { declaration } : {})
  } satisfies PersonalQrData);
  return checked.success ? tidyData(checked.output) : null;
}

export function personFromPersonalQr(data: PersonalQrData): PersonRecord {
  return {
    source: 'personal-qr',
    name: data.name,
    phone: data.phone,
    birthYear: data.birthYear,
    ...(data.communeCode ? { communeCode: data.communeCode } : {}),
    ...(data.idNumber ? { idNumber: data.idNumber } : {})
  } satisfies PersonRecord;
}
