/**
 * The camera videos the browser tests show Chromium are what a phone would see: the file's frame,
 * read back from its own bytes, is a 1280×720 picture whose QR code reads as the text it was made
 * from (ZXing-C++ in WebAssembly, the reader the PWA's scanner uses). No browser needed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { prepareZXingModule, readBarcodes } from 'zxing-wasm/reader';
import { firstFrameOf, type GreyFrame } from '../tools/fake-camera';
import { cameraFile } from './helpers';

const require = createRequire(import.meta.url);

async function codesIn(frame: GreyFrame): Promise<string[]> {
  const wasm = readFileSync(require.resolve('zxing-wasm/reader/zxing_reader.wasm'));
  await prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) }, fireImmediately: true });
  // The reader takes RGBA pixels; a grey picture has R = G = B = Y.
  const rgba = new Uint8ClampedArray(frame.width * frame.height * 4);
  frame.luma.forEach((y, i) => rgba.set([y, y, y, 255], i * 4));
  const results = await readBarcodes({ data: rgba, width: frame.width, height: frame.height, colorSpace: 'srgb' }, { formats: ['QRCode'] });
  return results.filter((r) => r.isValid).map((r) => r.text);
}

test('a camera video shows the QR code of its text, which reads back as that text', async () => {
  const text = 'https://luuvet.example/c#v1.eyJ2IjoiZGVtb2Nob2R1Y3RoIiwibiI6IkNoxqEgxJDhu5NuZyBUaOG6oW5oIn0.Tiếng Việt có dấu';
  const file = readFileSync(cameraFile('camera-check', text));
  expect(path.basename(cameraFile('camera-check', text))).toBe('camera-check.y4m');
  const frame = firstFrameOf(new Uint8Array(file.buffer, file.byteOffset, file.byteLength));
  expect([frame.width, frame.height]).toEqual([1280, 720]);
  // Header, frame header, then exactly one 4:2:0 frame: Chromium loops it.
  const header = file.indexOf(0x0a, file.indexOf(0x0a) + 1) + 1;
  expect(file.byteLength - header).toBe(1280 * 720 * 1.5);
  // The code sits in the middle, the corners are white.
  expect([frame.luma[0], frame.luma[1280 * 720 - 1]]).toEqual([255, 255]);
  expect(await codesIn(frame)).toEqual([text]);
});
