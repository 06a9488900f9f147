/**
 * Every problem of a team form at once, by field: a member on a checkpoint or at a case's door
 * fixes all of them in one go, instead of submitting again to learn the next one. The rules are
 * those of the functions that build the records (manualPerson, visitTimesFromClock,
 * checkExposureInput): these only say which field each refusal belongs to.
 */
import { ID_NUMBER_PATTERN } from '../citizen/personal-qr';
import { normalizePhone } from '../text';
import { checkExposureInput, type ExposureInputProblem } from '../exposure/exposure-draft';
import { HOUR } from '../time';

export type PersonField = 'name' | 'phone' | 'birthYear' | 'idNumber';

/**
 * What keeps manualPerson from making a person of what was typed, field by field: no name, or a
 * phone, birth year or ID number given but not one. Empty when manualPerson accepts it.
 */
export function typedPersonProblems(name: string, phone: string, birthYear: string, now: number, idNumber = ''): PersonField[] {
  const problems: PersonField[] = [];
  if (!name.trim()) problems.push('name');
  if (phone.trim() && normalizePhone(phone) === null) problems.push('phone');
  const year = birthYear.trim() ? Number(birthYear) : undefined;
  if (year !== undefined && !(Number.isInteger(year) && year >= 1900 && year <= new Date(now).getUTCFullYear())) problems.push('birthYear');
  const id = idNumber.replace(/\s+/g, '');
  if (id && !ID_NUMBER_PATTERN.test(id)) problems.push('idNumber');
  return problems;
}

/** A window that passes every rule: to check the contact number on its own. */
const FINE_WINDOW = (now: number) => ({ from: now - HOUR, to: now });
/** A number the rule accepts: to check the window on its own. */
const FINE_CONTACT = '0912345678';

/**
 * The exposure rules split between the form's two fields they read: the window (from, to) and the
 * contact number. Each is checked with the other made valid, so both can be shown together.
 */
export function exposureInputProblems(input: { from: number; to: number; contactPhone: string }, now: number): { window?: Exclude<ExposureInputProblem, 'no-contact'>; contact?: 'no-contact' } {
  const window = checkExposureInput({ from: input.from, to: input.to, contactPhone: FINE_CONTACT }, now);
  const contact = checkExposureInput({ ...FINE_WINDOW(now), contactPhone: input.contactPhone }, now);
  return {
    ...(window && window !== 'no-contact' ? { window } : {}),
    ...(contact === 'no-contact' ? { contact } : {})
  };
}
