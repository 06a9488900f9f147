import { describe, expect, it } from 'vitest';
import { originWarning } from './main';
import { readConfig } from './config';

describe('the warning at start about the origin posters print', () => {
  it('is given when PUBLIC_ORIGIN is unset (posters would point at localhost), or names this machine', () => {
    const unset = originWarning(readConfig({ PORT: '3000' }));
    expect(unset).toContain('PUBLIC_ORIGIN is not set');
    expect(unset).toContain('no phone can open them');
    expect(originWarning(readConfig({ PORT: '3000', PUBLIC_ORIGIN: 'http://127.0.0.1:3000' }))).toContain('PUBLIC_ORIGIN is http://127.0.0.1:3000');
  });

  it('is not given for a real address', () => {
    expect(originWarning(readConfig({ PORT: '3000', PUBLIC_ORIGIN: 'https://luuvet.hatinh.gov.vn' }))).toBeNull();
  });
});
