/** The words for a typed person's problems (core/casework/form-problems), under the ids of a form's fields. */
import { m } from '$lib/paraglide/messages.js';
import { typedPersonProblems, type PersonField } from '$lib/core/casework/form-problems';
import type { FormProblem } from './FormProblems.svelte';

const LABEL: Record<PersonField, () => string> = {
  name: m.station_manual_name,
  phone: m.station_manual_phone,
  birthYear: m.me_birth_year,
  idNumber: m.case_id_number
};

export function personFormProblems(ids: Record<PersonField, string>, typed: { name: string; phone: string; birthYear: string; idNumber: string }, now: number): FormProblem[] {
  const text: Record<PersonField, () => string> = {
    name: m.team_form_name_missing,
    phone: m.team_form_phone_invalid,
    birthYear: () => m.team_form_year_invalid({ year: new Date(now).getUTCFullYear() }),
    idNumber: m.team_form_id_invalid
  };
  return typedPersonProblems(typed.name, typed.phone, typed.birthYear, now, typed.idNumber).map((f) => ({ field: ids[f], label: LABEL[f](), text: text[f]() }));
}

/** Its field's problem, by id, for the FieldProblem under each input. */
export function problemsByField(problems: readonly FormProblem[]): Record<string, string> {
  return Object.fromEntries(problems.map((p) => [p.field, p.text]));
}
