/**
 * What in a visitor's self-declared health declaration a person at the door must look at before
 * letting them in: symptoms, contact with a case, travel from a unit at zone level 3–4 (cam, đỏ),
 * or a declaration not made today (what it says may no longer hold). One rule for the venue's
 * station and the team's checkpoint; the screens word the flags.
 */
import { highestZone, MONITORED_ZONE } from '../casework/casework';
import type { HealthDeclaration, Symptom } from '../citizen/personal-qr';

export type DeclarationFlag =
  | { kind: 'symptoms'; symptoms: Symptom[] }
  | { kind: 'contact' }
  | { kind: 'travel'; unit: string; zone: number }
  | { kind: 'stale'; date: string };

/**
 * The flags of a declaration, in the order a screen lists them; empty when nothing needs a second
 * look. `zoneOf` gives the zone level that applies to a unit on the device (null when unknown: an
 * unknown level is not a flag, the staff cannot act on it). `today` is YYYY-MM-DD in Vietnam.
 */
export function declarationFlags(
  declaration: Pick<HealthDeclaration, 'date' | 'symptoms' | 'contactWithCase' | 'travelledUnits'>,
  zoneOf: (unit: string) => number | null,
  today: string
): DeclarationFlag[] {
  const flags: DeclarationFlag[] = [];
  if (declaration.symptoms.length) flags.push({ kind: 'symptoms', symptoms: [...declaration.symptoms] });
  if (declaration.contactWithCase) flags.push({ kind: 'contact' });
  const worst = highestZone(declaration.travelledUnits, zoneOf);
  if (worst && worst.zone >= MONITORED_ZONE) flags.push({ kind: 'travel', unit: worst.unit, zone: worst.zone });
  if (declaration.date !== today) flags.push({ kind: 'stale', date: declaration.date });
  return flags;
}
