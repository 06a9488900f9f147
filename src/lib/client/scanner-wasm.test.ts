import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ZXING_WASM_SHA256 } from 'zxing-wasm/reader';

// The scanner serves zxing-wasm's reader binary itself (scanner.ts imports it with ?url, the service
// worker precaches it); it must be the exact build whose JS glue the reader module holds, or every
// read fails with "memory access out of bounds".
describe('scanner WebAssembly', () => {
  it('is the build the reader glue expects', () => {
    const file = createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm');
    expect(createHash('sha256').update(new Uint8Array(readFileSync(file))).digest('hex')).toBe(ZXING_WASM_SHA256);
  });
});
