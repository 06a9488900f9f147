/**
 * The unit's report as an A4 PDF made on the device, like the posters: pdf-lib with Be Vietnam Pro
 * embedded (the standard PDF fonts have no Vietnamese letters), the fonts and the word wrap of
 * poster-pdf.ts. It draws the same model as the printed page (document.ts). Heavy: load it only
 * when someone asks for the PDF, `await import('$lib/ui/reports/report-pdf')`.
 */
import { rgb, type PDFDocument, type PDFPage } from 'pdf-lib';
import { PAGE_SIZES, startPdf, type Fonts, type PosterFonts } from '../../client/poster-pdf';
import type { DocTable, ReportDocModel } from './document';

const MM = 72 / 25.4;
/** Decree 30/2020 margins: left 30 mm, right 15 mm, top and bottom 20 mm. */
const MARGIN = { left: 30 * MM, right: 15 * MM, top: 20 * MM, bottom: 20 * MM };
const INK = rgb(0, 0, 0);
const BODY = 12;
const LEAD = 1.35;


class Writer {
  page!: PDFPage;
  y = 0;
  readonly width: number;
  readonly pageSize = PAGE_SIZES.A4;

  constructor(
    readonly doc: PDFDocument,
    readonly fonts: Fonts
  ) {
    this.width = this.pageSize[0] - MARGIN.left - MARGIN.right;
    this.newPage();
  }

  newPage() {
    this.page = this.doc.addPage(this.pageSize);
    this.y = this.pageSize[1] - MARGIN.top;
  }

  /** Room for `height` points on this page, else a new page. */
  ensure(height: number) {
    if (this.y - height < MARGIN.bottom) this.newPage();
  }

  /** Lines of text, wrapped in [x, x + width], aligned. */
  text(text: string, opts: { size?: number; bold?: boolean; align?: 'left' | 'center' | 'justify-indent'; x?: number; width?: number; gapAfter?: number } = {}) {
    const size = opts.size ?? BODY;
    const face = opts.bold ? this.fonts.bold : this.fonts.regular;
    const x = opts.x ?? MARGIN.left;
    const width = opts.width ?? this.width;
    const indent = opts.align === 'justify-indent' ? size * 1.2 : 0;
    const lines = face.wrap(text, size, width - indent);
    lines.forEach((line, i) => {
      this.ensure(size * LEAD);
      this.y -= size * LEAD;
      const w = face.width(line, size);
      const lx = opts.align === 'center' ? x + (width - w) / 2 : x + (i === 0 ? indent : 0);
      this.page.drawText(line, { x: lx, y: this.y + size * 0.25, size, font: face.font, color: INK });
    });
    this.y -= opts.gapAfter ?? 0;
  }

  rule(x: number, width: number) {
    this.page.drawLine({ start: { x, y: this.y - 2 }, end: { x: x + width, y: this.y - 2 }, thickness: 0.6, color: INK });
    this.y -= 4;
  }

  table(table: DocTable) {
    const size = 7.5;
    const pad = 2;
    const total = table.widths.reduce((a, b) => a + b, 0);
    const widths = table.widths.map((w) => (w / total) * this.width);
    const lineHeight = size * 1.25;
    const rowOf = (cells: string[], bold: boolean) => {
      const face = bold ? this.fonts.bold : this.fonts.regular;
      const wrapped = cells.map((c, i) => (c ? face.wrap(c, size, widths[i]! - 2 * pad) : ['']));
      return { wrapped, height: Math.max(...wrapped.map((l) => l.length)) * lineHeight + 2 * pad, face };
    };
    const draw = (row: ReturnType<typeof rowOf>, header: boolean) => {
      let x = MARGIN.left;
      row.wrapped.forEach((lines, i) => {
        const w = widths[i]!;
        this.page.drawRectangle({ x, y: this.y - row.height, width: w, height: row.height, borderColor: INK, borderWidth: 0.5 });
        lines.forEach((line, j) => {
          const lw = row.face.width(line, size);
          const lx = header ? x + (w - lw) / 2 : table.numeric[i] ? x + w - pad - lw : x + pad;
          this.page.drawText(line, { x: lx, y: this.y - pad - (j + 1) * lineHeight + size * 0.3, size, font: row.face.font, color: INK });
        });
        x += w;
      });
      this.y -= row.height;
    };
    const header = rowOf(table.header, true);
    this.ensure(header.height + lineHeight * 2);
    this.y -= 4;
    draw(header, true);
    const rows = [...table.rows.map((r) => rowOf(r, false)), ...(table.totalRow ? [rowOf(table.totalRow, true)] : [])];
    for (const row of rows) {
      if (this.y - row.height < MARGIN.bottom) {
        this.newPage();
        draw(header, true);
      }
      draw(row, false);
    }
    this.y -= 6;
  }
}

export async function buildReportPdf(model: ReportDocModel, opts: { title: string; lang: 'vi' | 'en'; fonts?: PosterFonts }): Promise<Uint8Array> {
  const { doc, fonts } = await startPdf(opts.fonts);
  doc.setTitle(opts.title);
  doc.setLanguage(opts.lang === 'vi' ? 'vi-VN' : 'en');
  doc.setProducer('pdf-lib');
  const w = new Writer(doc, fonts);

  // The two headers side by side: the issuing unit left, the nation right.
  const top = w.y;
  const leftWidth = w.width * 0.42;
  const rightX = MARGIN.left + leftWidth;
  const rightWidth = w.width - leftWidth;
  model.issuer.forEach((line, i) => w.text(line, { size: 11, bold: i === model.issuer.length - 1, align: 'center', width: leftWidth }));
  w.rule(MARGIN.left + leftWidth * 0.3, leftWidth * 0.4);
  w.text(model.number, { size: 11, align: 'center', width: leftWidth });
  const leftBottom = w.y;
  w.y = top;
  w.text(model.nation, { size: 10.5, bold: true, align: 'center', x: rightX, width: rightWidth });
  w.text(model.motto, { size: 11, bold: true, align: 'center', x: rightX, width: rightWidth });
  w.rule(rightX + rightWidth * 0.22, rightWidth * 0.56);
  w.text(model.placeDate, { size: 11, align: 'center', x: rightX, width: rightWidth });
  w.y = Math.min(leftBottom, w.y) - 14;

  w.text(model.title, { size: 14, bold: true, align: 'center' });
  w.text(model.subject, { size: BODY, bold: true, align: 'center', x: MARGIN.left + w.width * 0.08, width: w.width * 0.84 });
  w.rule(MARGIN.left + w.width * 0.4, w.width * 0.2);
  w.y -= 6;
  w.text(model.intro, { align: 'justify-indent', gapAfter: 2 });

  for (const section of model.sections) {
    w.ensure(BODY * LEAD * 3);
    w.y -= 4;
    w.text(section.heading, { bold: true });
    for (const line of section.lines) w.text(line, { align: 'justify-indent', gapAfter: 1 });
    if (section.table) w.table(section.table);
  }

  w.y -= 4;
  w.text(model.remarks.heading, { bold: true });
  if (model.remarks.items.length === 0) w.text(model.remarks.empty, { align: 'justify-indent' });
  for (const item of model.remarks.items) {
    w.text(item.name, { bold: true });
    for (const f of item.fields) w.text(`- ${f.label}: ${f.text}`, { align: 'justify-indent', gapAfter: 1 });
  }

  // Signature block: recipients left, the signer right, kept together on one page.
  w.ensure(110);
  w.y -= 14;
  const sigTop = w.y;
  w.text(model.recipients.heading, { size: 11, bold: true, width: w.width / 2 });
  for (const line of model.recipients.lines) w.text(line, { size: 10, width: w.width / 2 });
  w.y = sigTop;
  w.text(model.signer, { size: 12, bold: true, align: 'center', x: MARGIN.left + w.width / 2, width: w.width / 2 });
  w.text(model.signHint, { size: 11, align: 'center', x: MARGIN.left + w.width / 2, width: w.width / 2 });

  return doc.save();
}
