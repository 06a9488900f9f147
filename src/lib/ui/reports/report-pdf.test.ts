/**
 * The report PDF made on the device, read back the way a printer and an official see it: poppler's
 * pdftotext reads the words (the embedded font maps Vietnamese letters back to text), pdftoppm
 * renders the pages. Needs poppler-utils: without it the test fails, it never skips.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { zeroFigures, type Figures } from '../../core/reports/figures';
import { weekPeriod } from '../../core/reports/period';
import { cleanRemarks, mergeSubmission, submissionsAnswer, unitReport, type CommuneOfUnit } from '../../core/reports/report';
import { fromVietnamLocal } from '../../core/time';
import { placeName, reportDocModel } from './document';
import { buildReportPdf } from './report-pdf';

const require = createRequire(import.meta.url);
const fontDir = path.dirname(require.resolve('@expo-google-fonts/be-vietnam-pro/package.json'));
const fonts = {
  regular: new Uint8Array(readFileSync(path.join(fontDir, '400Regular/BeVietnamPro_400Regular.ttf'))),
  bold: new Uint8Array(readFileSync(path.join(fontDir, '700Bold/BeVietnamPro_700Bold.ttf')))
};
const dir = mkdtempSync(path.join(os.tmpdir(), 'lv-report-pdf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const week = weekPeriod('2026-12-03');
const at = (day: string, time: string) => fromVietnamLocal(day, time)!;
const fig = (over: Partial<Figures>): Figures => ({ ...zeroFigures(), ...over });
const district = { code: '440', name: 'Huyện Đức Thọ' };
const names = ['Thị trấn Đức Thọ', 'Xã Quang Vĩnh', 'Xã Tùng Châu', 'Xã Trường Sơn', 'Xã Yên Hồ', 'Xã Bùi La Nhân', 'Xã Thanh Bình Thịnh', 'Xã Đức Đồng', 'Xã Đức Lạng', 'Xã Tân Hương'];
const communes: CommuneOfUnit[] = names.map((name, i) => ({ code: String(18070 + 3 * i), name, district }));

function districtReport() {
  const subs = new Map([
    ['18070', mergeSubmission(null, { communeCode: '18070', periodId: week.id, submittedAt: at('2026-12-02', '16:45'), seenAt: at('2026-12-02', '16:45'), remarks: cleanRemarks({ difficulties: 'Thôn 3 mất sóng, phải gửi báo cáo khi về xã', done: 'Đã kiểm tra 12 địa điểm' }), figures: null, figuresAt: null })],
    ['18073', mergeSubmission(null, { communeCode: '18073', periodId: week.id, submittedAt: at('2026-12-04', '09:10'), seenAt: at('2026-12-04', '09:10'), remarks: cleanRemarks({}), figures: null, figuresAt: null })]
  ]);
  const answer = submissionsAnswer({ ...district, level: 'district' }, week, communes, subs, at('2026-12-04', '10:00'));
  const rows = communes.map((c, i) => ({ code: c.code, name: c.name, figures: fig({ venues: 100 + i, venuesNew: i, venuesActive: 40 + i, entries: 1234 * (i + 1), checkins: 7 * i, arrivals: i, cases: i % 2 }) }));
  return unitReport(answer, { rows, updatedAt: new Date(at('2026-12-04', '06:00')).toISOString() });
}

describe('the report as a PDF', () => {
  it('carries the administrative headers, the title with the period, the rates, the figures and the remarks, in Vietnamese', async () => {
    const report = districtReport();
    const model = reportDocModel(report, { locale: 'vi', now: at('2026-12-04', '10:00'), parentName: 'Tỉnh Hà Tĩnh', figuresNote: null });
    const bytes = await buildReportPdf(model, { title: 'Báo cáo', lang: 'vi', fonts });
    const file = path.join(dir, 'report.pdf');
    writeFileSync(file, bytes);
    const text = execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).normalize('NFC').replace(/\s+/g, ' ');
    expect(text).toContain('TỈNH HÀ TĨNH');
    expect(text).toContain('HUYỆN ĐỨC THỌ');
    expect(text).toContain('CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM');
    expect(text).toContain('Độc lập - Tự do - Hạnh phúc');
    expect(text).toContain('Đức Thọ, ngày 04 tháng 12 năm 2026');
    expect(text).toContain('BÁO CÁO');
    expect(text).toContain('tuần từ 26/11/2026 đến 02/12/2026');
    // 2 of 10 communes submitted (20%), 1 on time (10%)
    expect(text).toContain('2/10 xã đã gửi báo cáo (20%), trong đó 1 xã gửi đúng hạn (10%)');
    // totals: venues 100+…+109 = 1045; entries 1234 × 55 = 67.870
    expect(text).toMatch(/Tổng cộng 1\.045 45 445 67\.870/);
    expect(text).toContain('Thôn 3 mất sóng, phải gửi báo cáo khi về xã');
    expect(text).toContain('Xã Tân Hương');
    expect(text).toContain('THỦ TRƯỞNG ĐƠN VỊ');
    // Every page renders.
    execFileSync('pdftoppm', ['-r', '50', '-png', file, path.join(dir, 'page')]);
    expect(existsSync(path.join(dir, 'page-1.png'))).toBe(true);
  });

  it('takes the place name from the unit', () => {
    expect(placeName('Huyện Đức Thọ')).toBe('Đức Thọ');
    expect(placeName('Thành phố Hà Tĩnh')).toBe('Hà Tĩnh');
    expect(placeName('Tỉnh Quảng Nam')).toBe('Quảng Nam');
  });
});
