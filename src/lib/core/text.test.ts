import { describe, expect, it } from 'vitest';
import { foldVietnamese } from './text';

describe('foldVietnamese', () => {
  it('removes tone marks and vowel marks', () => {
    expect(foldVietnamese('Tùng Châu')).toBe('tung chau');
    expect(foldVietnamese('Quang Vĩnh, Trường Sơn, Yên Hồ')).toBe('quang vinh, truong son, yen ho');
    expect(foldVietnamese('Thanh Bình Thịnh')).toBe('thanh binh thinh');
    expect(foldVietnamese('Ơ ư Ă â ê ô')).toBe('o u a a e o');
  });
  it('turns đ and Đ into d', () => {
    expect(foldVietnamese('Đức Đồng')).toBe('duc dong');
    expect(foldVietnamese('Huyện Đắk Mil, đường')).toBe('huyen dak mil, duong');
  });
  it('gives the same result for composed and decomposed input', () => {
    const composed = 'Đức Thọ'.normalize('NFC');
    const decomposed = 'Đức Thọ'.normalize('NFD');
    expect(composed).not.toBe(decomposed);
    expect(foldVietnamese(composed)).toBe(foldVietnamese(decomposed));
  });
  it('lower-cases and collapses whitespace', () => {
    expect(foldVietnamese('  THỊ   TRẤN\tĐỨC\n THỌ ')).toBe('thi tran duc tho');
    expect(foldVietnamese('')).toBe('');
  });
});

describe('escaped fields of QR texts', () => {
  it('escapes, splits at outer and inner levels, and unescapes back', async () => {
    const { escapeChars, splitEscaped, unescapeChars } = await import('./text');
    const name = 'a|b;c,d\\e';
    const text = ['x', escapeChars(name, '|;,')].join('|');
    const outer = splitEscaped(text, '|')!;
    expect(outer).toHaveLength(2);
    expect(splitEscaped(outer[1]!, ';')).toHaveLength(1);
    expect(unescapeChars(outer[1]!, '|;,')).toBe(name);
    expect(unescapeChars('a\\;b', '|')).toBeNull();
    expect(splitEscaped('a\\', '|')).toBeNull();
  });
});

describe('cleanText and cleanLine: the stored form of typed text', () => {
  it('removes bidi, zero-width, control characters and lone surrogates; NFC; trimmed', async () => {
    const { cleanText, cleanLine } = await import('./text');
    expect(cleanText('\u202eabc\u202c')).toBe('abc');
    expect(cleanText('a\u200b\u200c\u200d\u2060\ufeffb\u200e\u200f\u061c\u2066\u2067\u2068\u2069')).toBe('ab');
    expect(cleanText('Tho\u0323')).toBe('Thọ'.normalize('NFC'));
    expect(cleanText('  a\r\nb\u0000\u0007\u009f  ')).toBe('a\nb');
    expect(cleanText('\ud800x\udfff')).toBe('x');
    expect(cleanText(' '.repeat(100_000) + 'X')).toBe('X');
    expect(cleanLine(' Chợ \n\t Đức  Thọ ')).toBe('Chợ Đức Thọ');
    // idempotent: cleaning stored text again changes nothing
    const once = cleanText('\u202e  Tho\u0323 \u200b x ');
    expect(cleanText(once)).toBe(once);
  });
});
