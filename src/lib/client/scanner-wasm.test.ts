import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ZXING_WASM_SHA256 } from 'barcode-detector/ponyfill';

// The scanner serves zxing-wasm's reader binary itself; it must be the exact build whose JS glue
// barcode-detector bundles, or every detect() fails with "memory access out of bounds".
describe('scanner WebAssembly', () => {
  it('is the build barcode-detector expects', () => {
    const file = createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm');
    expect(createHash('sha256').update(new Uint8Array(readFileSync(file))).digest('hex')).toBe(ZXING_WASM_SHA256);
  });
});
