/**
 * Venue posters as a PDF, one A4 or A5 page per venue, made in the browser (nothing is uploaded).
 *
 * Heavy (pdf-lib, fontkit, two TTFs): load it only when someone asks for a PDF, with
 * `await import('$lib/client/poster-pdf')`. Imports stay relative so that Node tests and the
 * esbuild bench load it without SvelteKit's aliases.
 *
 * - Be Vietnam Pro is embedded (subset) because the standard PDF fonts have no Vietnamese diacritics.
 * - The QR is vector: one filled path of rectangles, a rectangle per horizontal run of dark modules,
 *   so it prints sharp at any size and a page stays a few kilobytes.
 * - Text comes from the Paraglide messages with an explicit locale, so the poster language does not
 *   depend on the language of the screen.
 */
import {
  PDFDocument,
  PDFOperator,
  PDFOperatorNames,
  concatTransformationMatrix,
  fill,
  popGraphicsState,
  pushGraphicsState,
  rgb,
  setFillingRgbColor,
  type PDFFont,
  type PDFPage,
  type RGB
} from 'pdf-lib';
import fontkit from '@pdf-lib/fontkit';
import { m } from '../paraglide/messages.js';
import type { VenueType } from '../core/venue/venue';
import { darkRuns, posterQr, QUIET_ZONE, type QrCode } from '../core/venue/poster-qr';
import { venueTypeLabel } from '../ui/labels';

export interface PosterVenue {
  name: string;
  venueType: VenueType;
  address: string;
  communeLabel: string;
  /** The signed check-in URL, `<origin>/c#<digits>`: what the QR holds. */
  url: string;
  /** A short line for people who type a link instead of scanning; printed as given, left out when empty. */
  fallbackUrl: string;
}

export type PosterSize = 'A4' | 'A5';
export type PosterLang = 'vi' | 'en';

export interface PosterFonts {
  regular: Uint8Array;
  bold: Uint8Array;
}

export interface PosterPdfOptions {
  size: PosterSize;
  lang: PosterLang;
  onProgress?: (done: number, total: number) => void;
  /** TTF bytes; by default the app's own copies of Be Vietnam Pro are fetched. */
  fonts?: PosterFonts;
}

/** Points (1/72 inch), ISO 216. */
export const PAGE_SIZES: Record<PosterSize, [number, number]> = {
  A4: [595.28, 841.89],
  A5: [419.53, 595.28]
};

/** Pages made between two yields to the event loop, so a batch of 200 keeps the page responsive. */
const PAGES_PER_YIELD = 4;

const INK = rgb(0x1b / 255, 0x1f / 255, 0x1d / 255);
const MUTED = rgb(0x4d / 255, 0x56 / 255, 0x52 / 255);
const GREEN = rgb(0x0b / 255, 0x6e / 255, 0x4f / 255);
const LINE = rgb(0xd5 / 255, 0xdc / 255, 0xd8 / 255);


/** One line of text as people wrote it, in the composed form the font's glyphs cover. */
function clean(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/**
 * A font and the widths of the texts it measured, at size 1. Shaping a text (fontkit's layout) is
 * most of the cost of a page, and a batch repeats the same instructions and words on every page.
 */
export class Face {
  readonly #widths = new Map<string, number>();
  constructor(readonly font: PDFFont) {}

  /** Width at size 1 (widths scale linearly with the size). */
  unit(text: string): number {
    let width = this.#widths.get(text);
    if (width === undefined) {
      width = this.font.widthOfTextAtSize(text, 1);
      this.#widths.set(text, width);
    }
    return width;
  }

  width(text: string, size: number): number {
    return this.unit(text) * size;
  }

  /**
   * Greedy word wrap, measuring each word once (a line's width is taken as its words' and spaces'
   * widths: kerning across a space is negligible). A word wider than the line, such as a long link,
   * is cut between characters.
   */
  wrap(text: string, size: number, maxWidth: number): string[] {
    const max = maxWidth / size;
    const space = this.unit(' ');
    const lines: string[] = [];
    let line = '';
    let lineWidth = 0;
    for (const word of clean(text).split(' ')) {
      if (!word) continue;
      const wordWidth = this.unit(word);
      if (line && lineWidth + space + wordWidth <= max) {
        line += ` ${word}`;
        lineWidth += space + wordWidth;
        continue;
      }
      if (line) lines.push(line);
      let rest = word;
      while (this.unit(rest) > max && rest.length > 1) {
        let cut = rest.length - 1;
        while (cut > 1 && this.unit(rest.slice(0, cut)) > max) cut--;
        lines.push(rest.slice(0, cut));
        rest = rest.slice(cut);
      }
      line = rest;
      lineWidth = this.unit(rest);
    }
    if (line) lines.push(line);
    return lines;
  }
}

export interface Fonts {
  regular: Face;
  bold: Face;
}

/**
 * A new PDF with the app's two faces embedded (subset: only the letters used travel), for the
 * posters and every other document made on the device.
 */
export async function startPdf(fontBytes?: PosterFonts): Promise<{ doc: PDFDocument; fonts: Fonts }> {
  const bytes = fontBytes ?? (await loadBundledFonts());
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const fonts: Fonts = {
    regular: new Face(await doc.embedFont(bytes.regular, { subset: true })),
    bold: new Face(await doc.embedFont(bytes.bold, { subset: true }))
  };
  return { doc, fonts };
}

interface TextBlock {
  lines: string[];
  face: Face;
  size: number;
  color: RGB;
  /** Line height as a multiple of the size. */
  leading: number;
  /** Space above the block. */
  before: number;
}

function blockHeight(block: TextBlock): number {
  return block.before + block.lines.length * block.size * block.leading;
}

/** Where the baseline of a line goes: glyphs centred in the line's height (descenders are about 0.22 of the size). */
function baseline(bottom: number, size: number, leading: number): number {
  return bottom + (size * (leading - 1)) / 2 + size * 0.22;
}

/** Draws the block centred, top down from `top`; returns the new top. */
function drawBlock(page: PDFPage, block: TextBlock, top: number): number {
  let y = top - block.before;
  const pageWidth = page.getWidth();
  for (const line of block.lines) {
    y -= block.size * block.leading;
    const width = block.face.width(line, block.size);
    page.drawText(line, { x: (pageWidth - width) / 2, y: baseline(y, block.size, block.leading), size: block.size, font: block.face.font, color: block.color });
  }
  return y;
}

/** One centred line made of pieces in different fonts. */
function drawMixedLine(page: PDFPage, pieces: [string, Face][], size: number, top: number): number {
  const total = pieces.reduce((sum, [text, face]) => sum + face.width(text, size), 0);
  let x = (page.getWidth() - total) / 2;
  const y = top - size * 1.3;
  for (const [text, face] of pieces) {
    page.drawText(text, { x, y: baseline(y, size, 1.3), size, font: face.font, color: INK });
    x += face.width(text, size);
  }
  return y;
}

/**
 * The QR as one path filled at once (no seams between rows): a rectangle per run of dark modules,
 * in module units under a scaling matrix, so the content stream holds small integers only.
 */
function drawQr(page: PDFPage, qr: QrCode, left: number, top: number, moduleSize: number): void {
  const origin = QUIET_ZONE * moduleSize;
  // x to the right, y downwards from the code's top-left dark-module corner.
  const ops = [pushGraphicsState(), concatTransformationMatrix(moduleSize, 0, 0, -moduleSize, left + origin, top - origin), setFillingRgbColor(0, 0, 0)];
  for (const [row, col, length] of darkRuns(qr)) {
    ops.push(PDFOperator.of(PDFOperatorNames.AppendRectangle, [String(col), String(row), String(length), '1']));
  }
  ops.push(fill(), popGraphicsState());
  page.pushOperators(...ops);
}

function drawPoster(doc: PDFDocument, fonts: Fonts, venue: PosterVenue, size: PosterSize, lang: PosterLang): void {
  const [width, height] = PAGE_SIZES[size];
  const page = doc.addPage([width, height]);
  // Every length is designed for A4 and scaled: an A5 poster is the A4 one, smaller.
  const s = width / PAGE_SIZES.A4[0];
  const margin = 40 * s;
  const textWidth = width - 2 * margin;
  const locale = { locale: lang };
  const { regular, bold } = fonts;
  const block = (text: string, face: Face, fontSize: number, color: RGB, leading: number, before: number, maxWidth = textWidth): TextBlock => ({
    lines: face.wrap(text, fontSize, maxWidth),
    face,
    size: fontSize,
    color,
    leading,
    before
  });

  const headline = block(m.poster_scan_title({}, locale).toLocaleUpperCase(lang), bold, 22 * s, GREEN, 1.25, 0);
  // The name as large as three lines allow: 80 characters fit at the smallest size.
  let nameSize = 38 * s;
  let name = block(venue.name, bold, nameSize, INK, 1.2, 14 * s);
  while (name.lines.length > 3 && nameSize > 20 * s) {
    nameSize -= 2 * s;
    name = block(venue.name, bold, nameSize, INK, 1.2, 14 * s);
  }
  const type = block(venueTypeLabel(venue.venueType, locale.locale), regular, 16 * s, MUTED, 1.3, 4 * s);
  const instructions = block(m.poster_instructions({}, locale), regular, 16 * s, INK, 1.35, 6 * s, textWidth - 30 * s);
  // Address and commune each start a line of their own.
  const placeLines = [venue.address, venue.communeLabel].map(clean).filter(Boolean).flatMap((line) => regular.wrap(line, 13 * s, textWidth));
  const place: TextBlock = { lines: placeLines, face: regular, size: 13 * s, color: INK, leading: 1.3, before: 10 * s };
  const footer = block(`${m.app_name({}, locale)} · ${m.poster_privacy({}, locale)}`, regular, 10 * s, MUTED, 1.3, 0);

  // The fallback: label and link on one line when they fit, the link on its own line(s) otherwise.
  const fallbackLabel = clean(m.poster_fallback_label({}, locale));
  const fallbackLink = clean(venue.fallbackUrl);
  const fallbackSize = 13 * s;
  const fallbackOneLine = regular.width(`${fallbackLabel} `, fallbackSize) + bold.width(fallbackLink, fallbackSize) <= textWidth;
  const fallback = !fallbackLink
    ? []
    : fallbackOneLine
      ? [block(fallbackLabel, regular, fallbackSize, INK, 1.3, 8 * s)]
      : [block(fallbackLabel, regular, fallbackSize, INK, 1.3, 8 * s), block(fallbackLink, bold, fallbackSize, INK, 1.3, 0)];

  const textHeight = [headline, name, type, instructions, place, ...fallback, footer].reduce((sum, b) => sum + blockHeight(b), 0);
  const gaps = 10 * s /* above the QR */ + 14 * s /* divider */ + 12 * s; /* above the footer */
  // The QR takes what is left, up to 72 % of the width; module edges on a quarter-point grid.
  const room = height - 2 * margin - textHeight - gaps;
  const code = posterQr(venue.url);
  const qrModules = code.modules.size + 2 * QUIET_ZONE;
  const moduleSize = Math.floor((Math.min(room, 0.72 * width) / qrModules) * 4) / 4;
  const qrSide = qrModules * moduleSize;
  // Space a short name leaves: shared around the QR, so the poster does not end in a blank band.
  const slack = Math.max(0, room - qrSide);

  let top = height - margin;
  top = drawBlock(page, headline, top);
  top = drawBlock(page, name, top);
  top = drawBlock(page, type, top);
  top -= 10 * s + slack * 0.3;
  drawQr(page, code, (width - qrSide) / 2, top, moduleSize);
  top -= qrSide + slack * 0.3;
  top = drawBlock(page, instructions, top);
  top -= 7 * s;
  page.drawLine({ start: { x: margin + 60 * s, y: top }, end: { x: width - margin - 60 * s, y: top }, thickness: 0.75 * s, color: LINE });
  top -= 7 * s;
  top = drawBlock(page, place, top);
  if (fallbackLink && fallbackOneLine) {
    top = drawMixedLine(page, [[`${fallbackLabel} `, regular], [fallbackLink, bold]], fallbackSize, top - 8 * s);
  } else {
    for (const b of fallback) top = drawBlock(page, b, top);
  }
  // The footer sits on the bottom margin, whatever is left above it.
  drawBlock(page, footer, margin + blockHeight(footer));
}

let bundledFonts: Promise<PosterFonts> | null = null;

/** The app's copies of the fonts, emitted by Vite as files and fetched once per page load. */
export function loadBundledFonts(): Promise<PosterFonts> {
  bundledFonts ??= (async () => {
    const [regularUrl, boldUrl] = await Promise.all([
      import('@expo-google-fonts/be-vietnam-pro/400Regular/BeVietnamPro_400Regular.ttf?url').then((mod) => mod.default),
      import('@expo-google-fonts/be-vietnam-pro/700Bold/BeVietnamPro_700Bold.ttf?url').then((mod) => mod.default)
    ]);
    const bytes = async (url: string) => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`font ${url}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    };
    const [regular, bold] = await Promise.all([bytes(regularUrl), bytes(boldUrl)]);
    return { regular, bold };
  })();
  // A failed fetch (offline before the fonts were cached) must not stick: the next try fetches again.
  bundledFonts.catch(() => (bundledFonts = null));
  return bundledFonts;
}

const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export async function buildPosterPdf(venues: PosterVenue[], opts: PosterPdfOptions): Promise<Uint8Array> {
  if (venues.length === 0) throw new Error('no venue to print');
  const { doc, fonts } = await startPdf(opts.fonts);
  const title = venues.length === 1 ? clean(venues[0]!.name) : m.poster_pdf_title({ count: venues.length }, { locale: opts.lang });
  doc.setTitle(`${title} · ${m.app_name({}, { locale: opts.lang })}`);
  doc.setLanguage(opts.lang === 'vi' ? 'vi-VN' : 'en');
  doc.setCreator(m.app_name({}, { locale: opts.lang }));
  doc.setProducer('pdf-lib');

  const total = venues.length;
  opts.onProgress?.(0, total);
  for (let i = 0; i < total; i++) {
    drawPoster(doc, fonts, venues[i]!, opts.size, opts.lang);
    opts.onProgress?.(i + 1, total);
    if ((i + 1) % PAGES_PER_YIELD === 0) await nextTask();
  }
  await nextTask();
  return doc.save();
}
