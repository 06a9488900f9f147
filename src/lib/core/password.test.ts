import { describe, expect, it } from 'vitest';
import { PASSWORD_MIN_LENGTH, passwordTooShort } from './password';

describe('the password rule', () => {
  it('counts characters as typed, so Vietnamese letters and emoji count once', () => {
    expect(PASSWORD_MIN_LENGTH).toBe(8);
    expect(passwordTooShort('1234567')).toBe(true);
    expect(passwordTooShort('12345678')).toBe(false);
    expect(passwordTooShort('đường😀ă')).toBe(true); // 7 characters, 11 UTF-16 units
    expect(passwordTooShort('đường😀ăâ')).toBe(false);
  });
});
