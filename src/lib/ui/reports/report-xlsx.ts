/**
 * The report's tables as an XLSX workbook, made on the device with write-excel-file (maintained,
 * one small dependency; SheetJS's npm release is stale). Numbers stay numbers, so a district can
 * sum and sort them; text is written as text, never as a formula, whatever a remark starts with.
 * Loaded only when someone asks for the file: `await import('$lib/ui/reports/report-xlsx')`.
 */
import type { Sheet } from 'write-excel-file/browser';
import type { ReportTable } from '../../core/reports/report';

/** Excel's rules for a sheet name: at most 31 characters, none of : \ / ? * [ ] */
export function sheetName(name: string, taken: ReadonlySet<string> = new Set()): string {
  const base = name.replace(/[:\\/?*[\]]/g, ' ').trim().slice(0, 31) || 'Sheet';
  let candidate = base;
  for (let i = 2; taken.has(candidate); i++) candidate = `${base.slice(0, 28)} ${i}`;
  return candidate;
}

/** One sheet per table: a bold header row, then the rows; columns wide enough for their longest cell (bounded). */
export function xlsxSheets(tables: readonly ReportTable[]): Sheet<Blob>[] {
  const taken = new Set<string>();
  return tables.map((table) => {
    const name = sheetName(table.name, taken);
    taken.add(name);
    const widths = table.header.map((h, i) => Math.min(60, Math.max(6, h.length, ...table.rows.map((r) => String(r[i] ?? '').length)) + 2));
    return {
      sheet: name,
      columns: widths.map((width) => ({ width })),
      stickyRowsCount: 1,
      data: [
        table.header.map((value) => ({ value, fontWeight: 'bold' as const, wrap: true })),
        ...table.rows.map((row) => row.map((value) => (typeof value === 'number' ? { value, type: Number } : { value, type: String, wrap: true })))
      ]
    };
  });
}

export async function tablesXlsx(tables: readonly ReportTable[]): Promise<Blob> {
  const { default: writeExcelFile } = await import('write-excel-file/browser');
  return writeExcelFile(xlsxSheets(tables)).toBlob();
}
