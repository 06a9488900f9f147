/**
 * Venue posters as PDF, checked the way a printer and a phone see them: poppler renders each page
 * (pdftoppm) and ZXing-C++ reads the QR from the picture; pdftotext reads the words back, which
 * proves the embedded font carries the Vietnamese diacritics (and maps them back to text).
 * Needs poppler-utils: without it the test fails, it never skips.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { preparePdfReading, qrCodesOfPages as readQrCodes, textOfPdf, type PageCode } from '../pdf-reading';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPosterPdf, PAGE_SIZES, type PosterFonts, type PosterVenue } from '../../src/lib/client/poster-pdf';
import { posterQr } from '../../src/lib/core/venue/poster-qr';
import { checkinUrl, type VenueClaims } from '../../src/lib/core/venue/venue-token';
import { newSigningKey, signVenueToken } from '../../src/lib/core/venue/venue-signing';

const require = createRequire(import.meta.url);
const fontDir = path.dirname(require.resolve('@expo-google-fonts/be-vietnam-pro/package.json'));
const fonts: PosterFonts = {
  regular: new Uint8Array(readFileSync(path.join(fontDir, '400Regular/BeVietnamPro_400Regular.ttf'))),
  bold: new Uint8Array(readFileSync(path.join(fontDir, '700Bold/BeVietnamPro_700Bold.ttf')))
};

const LONG_NAME = 'Nhà văn hóa thôn Trung Tiến, xã Đức Lạng, huyện Đức Thọ, Hà T';
const INSTRUCTION_VI = 'Mở máy ảnh của điện thoại, hướng vào mã QR rồi chạm vào đường dẫn hiện ra để khai báo.';
const INSTRUCTION_EN = "Open your phone's camera, point it at the QR code, then tap the link that appears to check in.";

const key = newSigningKey('1001');
function venue(claims: VenueClaims, address: string, communeLabel: string): PosterVenue {
  return {
    name: claims.name,
    venueType: claims.venueType,
    address,
    communeLabel,
    url: checkinUrl('https://luuvet.example.vn', signVenueToken(claims, key)),
    fallbackUrl: `luuvet.example.vn/v/${claims.venueId}`
  };
}

const VENUES: PosterVenue[] = [
  venue({ venueId: 'nhavanhoatt2', name: LONG_NAME, communeCode: '18118', venueType: 'other' }, 'Thôn Trung Tiến', 'Xã Đức Lạng, Huyện Đức Thọ, Tỉnh Hà Tĩnh'),
  venue({ venueId: 'choducthokh3', name: 'Chợ Đức Thọ', communeCode: '18070', venueType: 'market' }, 'Khối 3', 'Thị trấn Đức Thọ, Huyện Đức Thọ, Tỉnh Hà Tĩnh'),
  venue({ venueId: 'quancafesong', name: 'Quán cà phê Sông La', communeCode: '18070', venueType: 'food' }, 'Đường Lê Duẩn', 'Thị trấn Đức Thọ, Huyện Đức Thọ, Tỉnh Hà Tĩnh')
];

let dir: string;
beforeAll(async () => {
  await preparePdfReading();
  dir = mkdtempSync(path.join(os.tmpdir(), 'lv-poster-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const qrCodesOfPages = (pdfFile: string) => readQrCodes(pdfFile, dir);
const textOf = textOfPdf;

const textsOf = (codes: PageCode[][]) => codes.map((page) => page.map((code) => code.text));


async function pageSizes(bytes: Uint8Array): Promise<[number, number][]> {
  const doc = await PDFDocument.load(bytes);
  return doc.getPages().map((page) => [page.getWidth(), page.getHeight()]);
}

describe('poster PDF', () => {
  it('keeps a 60-character Vietnamese name within a version 10 QR at level M', () => {
    expect(LONG_NAME.normalize('NFC').length).toBeGreaterThanOrEqual(60);
    const code = posterQr(VENUES[0]!.url);
    expect(code.version).toBeLessThanOrEqual(10);
    expect(code.errorCorrectionLevel.bit).toBe(0); // M
  });

  it('prints an A4 batch: one page per venue, a QR that reads back as the signed URL, the text in Vietnamese', async () => {
    const progress: [number, number][] = [];
    const bytes = await buildPosterPdf(VENUES, { size: 'A4', lang: 'vi', fonts, onProgress: (done, total) => progress.push([done, total]) });
    const file = path.join(dir, 'batch-a4.pdf');
    writeFileSync(file, bytes);

    expect(await pageSizes(bytes)).toEqual(VENUES.map(() => PAGE_SIZES.A4));
    expect(PAGE_SIZES.A4).toEqual([595.28, 841.89]);
    expect(progress.at(-1)).toEqual([3, 3]);

    const codes = await qrCodesOfPages(file);
    expect(textsOf(codes)).toEqual(VENUES.map((v) => [v.url]));
    // Big enough to scan from a metre away: the code and its quiet zone take at least 60 % of the width.
    for (const [code] of codes) expect(code!.widthOfPage).toBeGreaterThanOrEqual(0.6);

    const text = textOf(file);
    for (const v of VENUES) {
      expect(text).toContain(v.name.normalize('NFC'));
      expect(text).toContain(v.fallbackUrl);
      expect(text).toContain(v.communeLabel);
    }
    expect(text).toContain(INSTRUCTION_VI);
    expect(text).toContain('Không quét được mã? Gõ địa chỉ:');
    expect(text).toContain('QUÉT MÃ ĐỂ KHAI BÁO');
    expect(text).toContain('Khác'); // venue type "other", in Vietnamese
  });

  it('prints an A5 poster in English, with the QR still readable', async () => {
    const bytes = await buildPosterPdf([VENUES[0]!], { size: 'A5', lang: 'en', fonts });
    const file = path.join(dir, 'single-a5.pdf');
    writeFileSync(file, bytes);

    expect(await pageSizes(bytes)).toEqual([[419.53, 595.28]]);
    const codes = await qrCodesOfPages(file);
    expect(textsOf(codes)).toEqual([[VENUES[0]!.url]]);
    expect(codes[0]![0]!.widthOfPage).toBeGreaterThanOrEqual(0.6);
    const text = textOf(file);
    expect(text).toContain(LONG_NAME.normalize('NFC'));
    expect(text).toContain(INSTRUCTION_EN);
    expect(text).toContain(VENUES[0]!.fallbackUrl);
  });
});
