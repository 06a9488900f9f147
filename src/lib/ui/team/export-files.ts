/**
 * The export's files, written on the device: one CSV per table (core/csv.ts: BOM, quoted, no
 * formula injection), or one XLSX with a sheet per table (the report's writer, loaded on demand).
 */
import { toCsv } from '$lib/core/csv';
import { exportFileName, type ExportTable } from '$lib/core/casework/team-export';
import { downloadBytes, downloadText } from '$lib/client/download';

export function downloadCsv(table: ExportTable, commune: string, now: number): string {
  const file = exportFileName(table.name, commune, now, 'csv');
  downloadText(file, toCsv(table.header, table.rows.map((row) => row.map(String))), 'text/csv;charset=utf-8');
  return file;
}

export async function downloadXlsx(tables: readonly ExportTable[], commune: string, now: number, name: string): Promise<string> {
  const { tablesXlsx } = await import('$lib/ui/reports/report-xlsx');
  const blob = await tablesXlsx(tables);
  const file = exportFileName(name, commune, now, 'xlsx');
  downloadBytes(file, new Uint8Array(await blob.arrayBuffer()), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  return file;
}
