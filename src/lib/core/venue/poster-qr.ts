/**
 * The QR code of a venue poster, shared by the printed page (SVG) and the PDF (vector rectangles):
 * the check-in URL's token is all digits, so it goes in a numeric segment (3.3 bits a digit instead
 * of 8), which keeps a 60-character name within version 10 at level M.
 */
import QRCode from 'qrcode';

export type QrCode = ReturnType<typeof QRCode.create>;

/** Modules of white around the code: scanners need it to find the code. */
export const QUIET_ZONE = 4;

export function posterQr(url: string): QrCode {
  const hash = url.indexOf('#');
  const digits = url.slice(hash + 1);
  if (hash > 0 && /^[0-9]+$/.test(digits)) {
    return QRCode.create(
      [
        { data: new TextEncoder().encode(url.slice(0, hash + 1)), mode: 'byte' },
        { data: digits, mode: 'numeric' }
      ],
      { errorCorrectionLevel: 'M' }
    );
  }
  return QRCode.create(url, { errorCorrectionLevel: 'M' });
}

/** Horizontal runs of dark modules, row by row: [row, first column, length]. One rectangle each keeps files small. */
export function darkRuns(qr: QrCode): [number, number, number][] {
  const { size, data } = qr.modules;
  const runs: [number, number, number][] = [];
  for (let row = 0; row < size; row++) {
    let col = 0;
    while (col < size) {
      if (!data[row * size + col]) {
        col++;
        continue;
      }
      const start = col;
      while (col < size && data[row * size + col]) col++;
      runs.push([row, start, col - start]);
    }
  }
  return runs;
}

/** A QR of any text, UTF-8 in byte mode (Vietnamese names), level M: the personal QR. */
export function textQr(text: string): QrCode {
  return QRCode.create([{ data: new TextEncoder().encode(text), mode: 'byte' }], { errorCorrectionLevel: 'M' });
}

/** The code as one SVG path, a rectangle per horizontal run of dark modules, quiet zone included. */
export function qrSvgPath(code: QrCode): { side: number; path: string } {
  const path = darkRuns(code)
    .map(([row, col, length]) => `M${col + QUIET_ZONE} ${row + QUIET_ZONE}h${length}v1h${-length}z`)
    .join('');
  return { side: code.modules.size + 2 * QUIET_ZONE, path };
}
