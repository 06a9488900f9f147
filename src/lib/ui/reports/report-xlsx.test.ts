import { describe, expect, it } from 'vitest';
import { unzipSync, strFromU8 } from 'fflate';
import writeExcelFile from 'write-excel-file/node';
import { sheetName, xlsxSheets } from './report-xlsx';
import type { ReportTable } from '../../core/reports/report';

const figures: ReportTable = { name: 'Số liệu', header: ['Mã', 'Đơn vị', 'Địa điểm'], rows: [['18070', 'Thị trấn Đức Thọ', 30], ['440', 'Tổng cộng', 39]] };
const submissions: ReportTable = { name: 'Tình hình gửi', header: ['Mã', 'Đã làm'], rows: [['18070', '=HYPERLINK("http://x")']] };

describe('XLSX of the report tables', () => {
  it('names sheets as Excel allows, each once', () => {
    expect(sheetName('Số liệu: tuần 26/11/2026 [huyện]')).toBe('Số liệu  tuần 26 11 2026  huyện');
    expect(sheetName('Số liệu', new Set(['Số liệu']))).toBe('Số liệu 2');
    expect(sheetName('x'.repeat(40)).length).toBe(31);
  });

  it('writes a workbook whose cells read back: numbers as numbers, a remark like a formula as text', async () => {
    const buffer = await writeExcelFile(xlsxSheets([figures, submissions]) as never).toBuffer();
    const files = unzipSync(new Uint8Array(buffer));
    const workbook = strFromU8(files['xl/workbook.xml']!);
    expect(workbook).toContain('name="Số liệu"');
    expect(workbook).toContain('name="Tình hình gửi"');
    const sheets = Object.keys(files).filter((f) => /^xl\/worksheets\/sheet\d+\.xml$/.test(f)).sort();
    const first = strFromU8(files[sheets[0]!]!);
    const second = strFromU8(files[sheets[1]!]!);
    const shared = files['xl/sharedStrings.xml'] ? strFromU8(files['xl/sharedStrings.xml']) : '';
    // 30 and 39 are numeric cells
    expect(first).toMatch(/<c r="C2"[^>]*><v>30<\/v><\/c>/);
    expect(first).toMatch(/<c r="C3"[^>]*><v>39<\/v><\/c>/);
    // Vietnamese text survives; the formula-looking remark is not a formula
    expect(shared + first).toContain('Thị trấn Đức Thọ');
    expect(second).not.toContain('<f>');
    expect(shared + second).toContain('<t>=HYPERLINK("http://x")</t>');
  });
});
