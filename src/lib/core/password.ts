/**
 * The password rule, one for the server and the forms: people can meet it on a phone keyboard,
 * and it is long enough to resist guessing (scrypt and the login limits do the rest). Counted in
 * characters as typed (code points), so Vietnamese letters count once each.
 */
export const PASSWORD_MIN_LENGTH = 8;

export function passwordTooShort(password: string): boolean {
  return [...password].length < PASSWORD_MIN_LENGTH;
}
