/**
 * Reading PDFs the way a printer and a phone see them: poppler renders each page (pdftoppm) and
 * ZXing-C++ (WebAssembly, in Node) reads the QR codes from the picture; pdftotext reads the words.
 * Shared by the poster integration test and the browser tests. Needs poppler-utils: without it
 * the tests fail with a clear message, they never skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { prepareZXingModule, readBarcodes } from 'zxing-wasm/reader';

const require = createRequire(import.meta.url);
let prepared: Promise<unknown> | null = null;

export function preparePdfReading(): Promise<unknown> {
  const probe = spawnSync('pdftoppm', ['-v'], { encoding: 'utf8' });
  if (probe.error) throw new Error('pdftoppm (poppler-utils) is missing: these tests render PDFs with it. Install it with: sudo apt-get install -y poppler-utils');
  const wasmBinary = readFileSync(require.resolve('zxing-wasm/reader/zxing_reader.wasm'));
  prepared ??= prepareZXingModule({
    overrides: { wasmBinary: wasmBinary.buffer.slice(wasmBinary.byteOffset, wasmBinary.byteOffset + wasmBinary.byteLength) },
    fireImmediately: true
  });
  return prepared;
}

export interface PageCode {
  text: string;
  /** Width of the code with its quiet zone, as a fraction of the page's width. */
  widthOfPage: number;
}

/** Renders every page at 100 dpi into `dir` and reads the QR codes on each, page by page. */
export async function qrCodesOfPages(pdfFile: string, dir: string): Promise<PageCode[][]> {
  await preparePdfReading();
  const prefix = path.join(dir, path.basename(pdfFile, '.pdf'));
  execFileSync('pdftoppm', ['-r', '100', '-png', pdfFile, prefix]);
  const pages = readdirSync(dir)
    .filter((f) => f.startsWith(path.basename(prefix) + '-') && f.endsWith('.png'))
    .sort((a, b) => Number(/-(\d+)\.png$/.exec(a)![1]) - Number(/-(\d+)\.png$/.exec(b)![1]));
  const codes: PageCode[][] = [];
  for (const page of pages) {
    const png = new Uint8Array(readFileSync(path.join(dir, page)));
    const pageWidth = new DataView(png.buffer, png.byteOffset).getUint32(16); // IHDR width
    const results = await readBarcodes(png, { formats: ['QRCode'], tryHarder: true });
    codes.push(
      results
        .filter((r) => r.isValid)
        .map((r) => {
          const modules = 17 + 4 * Number(r.version);
          const symbol = Math.hypot(r.position.topRight.x - r.position.topLeft.x, r.position.topRight.y - r.position.topLeft.y);
          return { text: r.text, widthOfPage: (symbol * (modules + 8)) / modules / pageWidth };
        })
    );
  }
  return codes;
}

export function textOfPdf(pdfFile: string): string {
  return execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', pdfFile, '-'], { encoding: 'utf8' }).normalize('NFC').replace(/\s+/g, ' ');
}
