/**
 * Administrative units (tỉnh / huyện / xã) and zone levels of the public directory `lv_directory`
 * (DESIGN §4): the CSV an admin imports, the checks on its tree, and the search behind every
 * "choose your commune" field. Pure TypeScript, shared by the PWA and the server.
 *
 * The tree has 2 levels (province → commune, the structure since July 2025) or 3 (province →
 * district → commune, the 2021 structure); a file may mix both across provinces. Codes are the
 * national numbering: province 2 digits, district 3, commune 5, each unique in the country.
 */
import Papa from 'papaparse';
import { foldVietnamese } from './text';
import { dayKey } from './time';

export const UNIT_LEVELS = ['province', 'district', 'commune'] as const;
export type UnitLevel = (typeof UNIT_LEVELS)[number];

/** Digits of a code at each level in the national numbering. */
export const UNIT_CODE_DIGITS: Record<UnitLevel, number> = { province: 2, district: 3, commune: 5 };

/** `unit:<code>` in lv_directory. `name` carries the unit's type word, as in the national list: "Xã Tùng Châu". */
export interface UnitDoc {
  _id: `unit:${string}`;
  _rev?: string;
  type: 'unit';
  schema: 1;
  code: string;
  name: string;
  level: UnitLevel;
  /** code of the province (for a district or commune) or district (for a commune); null for a province */
  parent: string | null;
}

/** Epidemic level of an area: 1–4 = xanh, vàng, cam, đỏ (their names are UI text, in messages/). */
export const ZONE_LEVELS = [1, 2, 3, 4] as const;
export type ZoneLevel = (typeof ZONE_LEVELS)[number];

/** `zone:<code>` in lv_directory: the current level of a unit, and the day it took effect. */
export interface ZoneDoc {
  _id: `zone:${string}`;
  _rev?: string;
  type: 'zone';
  schema: 1;
  code: string;
  level: ZoneLevel;
  /** YYYY-MM-DD, the day the level took effect */
  since: string;
  /** why the level was set (the decision, its number), as the admin wrote it; at most ZONE_NOTE_MAX characters */
  note?: string;
  /**
   * A level announced ahead ("cấp 3 from Monday"): until `since` the unit's own level is this one,
   * or none (it takes its parent's) when null. Absent when `since` is not in the future.
   */
  before?: ZoneLevel | null;
}

/** The unit's own level on `day`: the doc's level from `since` on, before that what it replaced; undefined: none of its own. */
export function ownZoneOn(zone: Pick<ZoneDoc, 'level' | 'since' | 'before'> | undefined, day: string): ZoneLevel | undefined {
  if (!zone) return undefined;
  if (!zone.since || zone.since <= day) return zone.level;
  return zone.before ?? undefined;
}

export const ZONE_NOTE_MAX = 300;

export function unitDocId(code: string): `unit:${string}` {
  return `unit:${code}`;
}

export function zoneDocId(code: string): `zone:${string}` {
  return `zone:${code}`;
}

export interface CsvError {
  /** 1-based line of the file (the first line of a row that spans several lines) */
  line: number;
  message: string;
}

export interface UnitsCsvResult {
  /** Rows without errors of their own, in file order. Import only when `errors` is empty. */
  units: UnitDoc[];
  errors: CsvError[];
  /** the line of each code's first row in the file (rows with errors too) */
  lines: Map<string, number>;
}

export interface ZonesCsvResult {
  zones: ZoneDoc[];
  errors: CsvError[];
}

const NAME_MAX = 100;

// ---------------------------------------------------------------------------------------------
// CSV reading

interface CsvRow {
  line: number;
  cells: string[];
}

/**
 * Rows of a CSV text with the line each starts on. UTF-8 text with or without a BOM; `,` (or `;`
 * or tab, as spreadsheets in some locales save it, decided from the first row); lines starting
 * with `#` and blank lines are skipped.
 */
function readCsv(input: string): { rows: CsvRow[]; errors: CsvError[] } {
  const text = input.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const firstRow = text.split('\n').find((l) => l.trim() !== '' && !l.startsWith('#')) ?? '';
  const delimiter = firstRow.includes(',') ? ',' : firstRow.includes(';') ? ';' : firstRow.includes('\t') ? '\t' : ',';
  const rows: CsvRow[] = [];
  const errors: CsvError[] = [];
  const lines = text.split('\n');
  // What Papa Parse skips: comment lines, and (greedy) lines of nothing but spaces and delimiters.
  const skipped = (l: string) => l.startsWith('#') || l.split(delimiter).every((c) => c.trim() === '');
  let pos = 0; // offset just past the previous row
  let next = 0; // index of the line at pos
  Papa.parse<string[]>(text, {
    delimiter,
    comments: '#',
    skipEmptyLines: 'greedy',
    step(result) {
      let i = next;
      while (i < lines.length - 1 && skipped(lines[i]!)) i++;
      const line = i + 1;
      // meta.cursor is just past the row and its line break.
      const cursor = Math.min(Math.max(result.meta.cursor, pos), text.length);
      for (let k = pos; k < cursor; k++) if (text.charCodeAt(k) === 10) next++;
      pos = cursor;
      for (const e of result.errors) {
        errors.push({ line, message: e.code === 'MissingQuotes' ? 'a quoted field is not closed (missing ")' : e.message });
      }
      rows.push({ line, cells: result.data.map((c) => String(c ?? '')) });
    }
  });
  return { rows, errors };
}

/** Maps the header row to column positions; the names are case-insensitive and in any order. */
function readHeader(
  row: CsvRow,
  required: readonly string[],
  optional: readonly string[]
): { columns: Map<string, number>; errors: CsvError[] } {
  const columns = new Map<string, number>();
  const errors: CsvError[] = [];
  row.cells.forEach((cell, i) => {
    const name = foldVietnamese(cell).trim();
    if (!required.includes(name) && !optional.includes(name)) return; // other columns are ignored
    if (columns.has(name)) errors.push({ line: row.line, message: `column "${name}" appears twice in the header` });
    else columns.set(name, i);
  });
  const missing = required.filter((c) => !columns.has(c));
  if (missing.length) {
    const looksLikeData = /^[0-9]+$/.test((row.cells[0] ?? '').trim());
    errors.push({
      line: row.line,
      message: looksLikeData
        ? `the first row must be the header ${[...required, ...optional].join(',')}`
        : `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in the header (expected ${[...required, ...optional].join(',')})`
    });
  }
  return { columns, errors };
}

function cell(row: CsvRow, columns: Map<string, number>, name: string): string {
  const i = columns.get(name);
  return i === undefined ? '' : (row.cells[i] ?? '').trim();
}

// ---------------------------------------------------------------------------------------------
// Units

/**
 * Accepted words for the level column, folded (no diacritics, lower case). Besides the plain level
 * words, the unit types whose level is unambiguous: quận and thị xã are districts; phường, thị trấn
 * and đặc khu (since 2025) are communes. A bare "thành phố" is refused: it is a province (Hà Nội,
 * Đà Nẵng…) or a district (Thành phố Hà Tĩnh), so the file must say which.
 */
const LEVEL_WORDS: Record<string, UnitLevel> = {
  province: 'province',
  tinh: 'province',
  'thanh pho truc thuoc trung uong': 'province',
  district: 'district',
  huyen: 'district',
  quan: 'district',
  'thi xa': 'district',
  'thanh pho thuoc tinh': 'district',
  'thanh pho truc thuoc tinh': 'district',
  commune: 'commune',
  xa: 'commune',
  phuong: 'commune',
  'thi tran': 'commune',
  'dac khu': 'commune'
};

function parseLevel(value: string): UnitLevel | { error: string } {
  const folded = foldVietnamese(value).trim();
  if (!folded) return { error: 'missing level (province, district or commune)' };
  if (Object.prototype.hasOwnProperty.call(LEVEL_WORDS, folded)) return LEVEL_WORDS[folded]!;
  if (folded === 'thanh pho' || folded === 'tp') {
    return { error: `level "${value}" is ambiguous (a city can be a province or a district): write province or district` };
  }
  return { error: `unknown level "${value}" (expected province, district or commune; tỉnh, huyện or xã)` };
}

const LEVEL_NAMES: Record<UnitLevel, string> = { province: 'province', district: 'district', commune: 'commune' };

function codeError(code: string, level: UnitLevel | null, what = 'code'): string | null {
  if (!code) return `missing ${what}`;
  if (!/^[0-9]+$/.test(code)) return `${what} "${code}" is not a number`;
  if (level) {
    const digits = UNIT_CODE_DIGITS[level];
    if (code.length !== digits) {
      const hint = code.length < digits ? ' (a spreadsheet may have dropped its leading zeros: format the column as text)' : '';
      return `${what} "${code}" of a ${LEVEL_NAMES[level]} must have ${digits} digits${hint}`;
    }
  } else if (![2, 3, 5].includes(code.length)) {
    return `${what} "${code}" must have 2 (province), 3 (district) or 5 (commune) digits`;
  }
  return null;
}

function cleanName(value: string): string {
  return value.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/**
 * Reads the units CSV: a header row with the columns `code,name,level,parent` (case-insensitive,
 * any order, `parent` optional when the file holds provinces only, other columns ignored), then one
 * unit a row. `existing` are the units already stored: a row may name one of them as its parent,
 * and a row with the code of one of them replaces it. Never throws; every problem is an error with
 * its line number.
 */
export function parseUnitsCsv(text: string, existing: readonly UnitDoc[] = []): UnitsCsvResult {
  try {
    return parseUnits(text, existing);
  } catch (err) {
    return { units: [], errors: [{ line: 1, message: `could not read the file: ${(err as Error)?.message ?? String(err)}` }], lines: new Map() };
  }
}

function parseUnits(text: string, existing: readonly UnitDoc[]): UnitsCsvResult {
  const { rows, errors } = readCsv(text);
  const [headerRow, ...dataRows] = rows;
  if (!headerRow) return { units: [], errors: [{ line: 1, message: 'the file is empty: expected a header row code,name,level,parent' }], lines: new Map() };
  const header = readHeader(headerRow, ['code', 'name', 'level'], ['parent']);
  if (header.errors.length) return { units: [], errors: [...errors, ...header.errors].sort(byLine), lines: new Map() };
  const { columns } = header;

  const firstLine = new Map<string, number>();
  const candidates: { line: number; unit: UnitDoc }[] = [];
  for (const row of dataRows) {
    const rowErrors: string[] = [];
    const code = cell(row, columns, 'code');
    const name = cleanName(cell(row, columns, 'name'));
    const levelText = cell(row, columns, 'level');
    const parentText = cell(row, columns, 'parent');

    const level = parseLevel(levelText);
    const levelOk = typeof level === 'string' ? level : null;
    if (typeof level !== 'string') rowErrors.push(level.error);
    const badCode = codeError(code, levelOk);
    if (badCode) rowErrors.push(badCode);
    if (!name) rowErrors.push('missing name');
    else if (name.length > NAME_MAX) rowErrors.push(`name longer than ${NAME_MAX} characters`);
    else if (name.includes('\uFFFD')) rowErrors.push('name has unreadable characters: save the file as UTF-8 (in Excel: "CSV UTF-8")');
    const parent = parentText === '' ? null : parentText;
    if (parent !== null && !/^[0-9]+$/.test(parent)) rowErrors.push(`parent "${parent}" is not a number`);
    else if (parent !== null && parent.length !== 2 && parent.length !== 3) {
      rowErrors.push(`parent "${parent}" is not a province (2 digits) or district (3 digits) code`);
    }
    if (code && !badCode) {
      const first = firstLine.get(code);
      if (first !== undefined) rowErrors.push(`duplicate code ${code} (first on line ${first})`);
      else firstLine.set(code, row.line);
    }
    for (const message of rowErrors) errors.push({ line: row.line, message });
    if (rowErrors.length || !levelOk) continue;
    candidates.push({ line: row.line, unit: { _id: unitDocId(code), type: 'unit', schema: 1, code, name, level: levelOk, parent } });
  }

  // The tree: the stored units, replaced by the rows of this file.
  const tree = new Map<string, { level: UnitLevel; parent: string | null }>();
  for (const u of existing) tree.set(u.code, { level: u.level, parent: u.parent });
  for (const { unit } of candidates) tree.set(unit.code, { level: unit.level, parent: unit.parent });
  const stored = new Set(existing.map((u) => u.code));
  const refused = new Map<string, number>(); // code -> line, for rows of this file with errors
  const accepted = new Set(candidates.map((c) => c.unit.code));
  for (const [code, line] of firstLine) if (!accepted.has(code)) refused.set(code, line);
  const hasRowErrors = new Set(refused.keys());
  for (const { line, unit } of candidates) {
    const message = unit.parent !== null && hasRowErrors.has(unit.parent) && !stored.has(unit.parent) ? null : treeError(unit, tree);
    if (message) {
      errors.push({ line, message });
      refused.set(unit.code, line);
    }
  }
  // Rows whose parent row was refused would hang from nothing (repeated for grandchildren listed first).
  for (let changed = true; changed; ) {
    changed = false;
    for (const { line, unit } of candidates) {
      if (refused.has(unit.code) || unit.parent === null || stored.has(unit.parent)) continue;
      const parentLine = refused.get(unit.parent);
      if (parentLine === undefined) continue;
      errors.push({ line, message: `parent ${unit.parent} has errors (line ${parentLine})` });
      refused.set(unit.code, line);
      changed = true;
    }
  }
  return { units: candidates.filter((c) => !refused.has(c.unit.code)).map((c) => c.unit), errors: errors.sort(byLine), lines: firstLine };
}

function treeError(unit: UnitDoc, tree: Map<string, { level: UnitLevel; parent: string | null }>): string | null {
  const { code, level, parent } = unit;
  if (level === 'province') return parent === null ? null : `a province has no parent (found ${parent})`;
  if (parent === null) return level === 'district' ? 'a district needs its parent province' : 'a commune needs its parent district or province';
  if (parent === code) return `unit ${code} is its own parent`;
  // A loop in the parents (only possible with wrong levels, but said plainly).
  const chain = [code];
  const seen = new Set(chain);
  for (let at: string | null = parent; at !== null && !seen.has(at); at = tree.get(at)?.parent ?? null) {
    chain.push(at);
    seen.add(at);
    if (tree.get(at)?.parent === code) return `cycle in the parents: ${[...chain, code].join(' → ')}`;
  }
  const p = tree.get(parent);
  if (!p) return `parent ${parent} not found (neither in this file nor already imported)`;
  if (level === 'district' && p.level !== 'province') return `the parent of a district must be a province, and ${parent} is a ${LEVEL_NAMES[p.level]}`;
  if (level === 'commune' && p.level === 'commune') return `the parent of a commune must be a district or a province, and ${parent} is a commune`;
  return null;
}

function byLine(a: CsvError, b: CsvError): number {
  return a.line - b.line;
}

// ---------------------------------------------------------------------------------------------
// Zones

const ZONE_WORDS: Record<string, ZoneLevel> = {
  '1': 1, xanh: 1, green: 1,
  '2': 2, vang: 2, yellow: 2,
  '3': 3, cam: 3, orange: 3,
  '4': 4, do: 4, red: 4
};

/** A real calendar day written YYYY-MM-DD. */
export function isDay(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === value;
}

/**
 * Reads a zone-level CSV: header `code,level,since`, level 1–4 (or xanh / vàng / cam / đỏ), since
 * YYYY-MM-DD. With `knownCodes`, every code must be one of them.
 */
export function parseZonesCsv(text: string, knownCodes?: ReadonlySet<string>): ZonesCsvResult {
  try {
    const { rows, errors } = readCsv(text);
    const [headerRow, ...dataRows] = rows;
    if (!headerRow) return { zones: [], errors: [{ line: 1, message: 'the file is empty: expected a header row code,level,since' }] };
    const header = readHeader(headerRow, ['code', 'level', 'since'], []);
    if (header.errors.length) return { zones: [], errors: [...errors, ...header.errors].sort(byLine) };
    const zones: ZoneDoc[] = [];
    const seen = new Map<string, number>();
    for (const row of dataRows) {
      const rowErrors: string[] = [];
      const code = cell(row, header.columns, 'code');
      const levelText = cell(row, header.columns, 'level');
      const since = cell(row, header.columns, 'since');
      const badCode = codeError(code, null);
      if (badCode) rowErrors.push(badCode);
      else if (knownCodes && !knownCodes.has(code)) rowErrors.push(`unknown unit ${code}`);
      else if (seen.has(code)) rowErrors.push(`duplicate code ${code} (first on line ${seen.get(code)})`);
      else seen.set(code, row.line);
      const levelWord = foldVietnamese(levelText).trim();
      const level = Object.prototype.hasOwnProperty.call(ZONE_WORDS, levelWord) ? ZONE_WORDS[levelWord] : undefined;
      if (!level) rowErrors.push(`level "${levelText}" is not 1–4 (xanh, vàng, cam, đỏ)`);
      if (!isDay(since)) rowErrors.push(`since "${since}" is not a day written YYYY-MM-DD`);
      for (const message of rowErrors) errors.push({ line: row.line, message });
      if (!rowErrors.length && level) zones.push({ _id: zoneDocId(code), type: 'zone', schema: 1, code, level, since });
    }
    return { zones, errors: errors.sort(byLine) };
  } catch (err) {
    return { zones: [], errors: [{ line: 1, message: `could not read the file: ${(err as Error)?.message ?? String(err)}` }] };
  }
}

// ---------------------------------------------------------------------------------------------
// Search

/** Type words at the start of a folded name, longest first: "huyen duc tho" is also "duc tho". */
const TYPE_PREFIXES = ['thanh pho ', 'thi tran ', 'dac khu ', 'phuong ', 'thi xa ', 'huyen ', 'tinh ', 'quan ', 'xa ', 'tp '];

const LEVEL_RANK: Record<UnitLevel, number> = { province: 0, district: 1, commune: 2 };

interface IndexEntry {
  unit: UnitDoc;
  /** folded name, words separated by one space: "huyen duc tho" */
  full: string;
  /** the same without its type word: "duc tho" */
  bare: string;
  /** " " + full, so that `includes(" " + word)` finds words that start with `word` */
  own: string;
  /** own + the folded names of the ancestors */
  path: string;
  levelRank: number;
}

/** Folded names of all units, built once (about 11,000 units for the whole country) and searched on every keystroke. */
export interface UnitIndex {
  readonly units: readonly UnitDoc[];
  readonly byCode: ReadonlyMap<string, UnitDoc>;
  readonly entries: readonly IndexEntry[];
}

function searchWords(text: string): string {
  return foldVietnamese(text)
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

function ancestors(byCode: ReadonlyMap<string, UnitDoc>, unit: UnitDoc): UnitDoc[] {
  const out: UnitDoc[] = [];
  const seen = new Set([unit.code]);
  for (let at = unit.parent; at !== null && !seen.has(at); ) {
    const p = byCode.get(at);
    if (!p) break;
    out.push(p);
    seen.add(at);
    at = p.parent;
  }
  return out;
}

export function buildUnitIndex(units: readonly UnitDoc[]): UnitIndex {
  const byCode = new Map<string, UnitDoc>();
  for (const u of units) byCode.set(u.code, u);
  // Each unit's folded path, built once per unit from its parent's (a broken, looping tree stops).
  const folded = new Map<string, string>();
  for (const u of units) folded.set(u.code, searchWords(u.name));
  const paths = new Map<string, string>();
  const pathOf = (unit: UnitDoc, visiting: Set<string>): string => {
    const known = paths.get(unit.code);
    if (known !== undefined) return known;
    visiting.add(unit.code);
    const parent = unit.parent === null || visiting.has(unit.parent) ? undefined : byCode.get(unit.parent);
    const path = ' ' + folded.get(unit.code)! + (parent ? pathOf(parent, visiting) : '');
    paths.set(unit.code, path);
    return path;
  };
  const entries = units.map((unit): IndexEntry => {
    const path = pathOf(unit, new Set());
    const full = folded.get(unit.code)!;
    const prefix = TYPE_PREFIXES.find((p) => full.startsWith(p));
    const bare = prefix ? full.slice(prefix.length) : full;
    return { unit, full, bare, own: ' ' + full, path, levelRank: LEVEL_RANK[unit.level] ?? 3 };
  });
  return { units, byCode, entries };
}

const indexCache = new WeakMap<readonly UnitDoc[], UnitIndex>();

/** The index of a list of units, built on first use and kept while the list lives (treat it as immutable). */
function indexOf(units: readonly UnitDoc[] | UnitIndex): UnitIndex {
  if (!Array.isArray(units)) return units as UnitIndex;
  const list = units as readonly UnitDoc[];
  const cached = indexCache.get(list);
  if (cached && cached.entries.length === list.length) return cached;
  const index = buildUnitIndex(list);
  indexCache.set(list, index);
  return index;
}

export interface SearchOptions {
  level?: UnitLevel;
  /** at most this many results (default 20) */
  limit?: number;
}

/**
 * Units whose name, or the names of their ancestors, contain every word of the query as the start
 * of a word, without regard to diacritics or case ("duc tho", "tung chau duc tho", "xa tung chau").
 * Best first: the name is the query, then the name starts with the query, then all words are in
 * the unit's own name, then the rest (units found through an ancestor); ties go to the higher
 * level, then alphabetical order. An empty query finds nothing.
 */
export function searchUnits(units: readonly UnitDoc[] | UnitIndex, query: string, opts: SearchOptions = {}): UnitDoc[] {
  const index = indexOf(units);
  const q = searchWords(query);
  const limit = opts.limit ?? 20;
  if (!q || limit <= 0) return [];
  const words = q.split(' ').map((w) => ' ' + w);
  // The best `limit` hits, kept in order: no sort of thousands of hits on a one-letter query.
  const best: Hit[] = [];
  for (const entry of index.entries) {
    if (opts.level && entry.unit.level !== opts.level) continue;
    let own = 0;
    let all = true;
    for (const w of words) {
      if (entry.own.includes(w)) own++;
      else if (!entry.path.includes(w)) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    const rank =
      entry.full === q || entry.bare === q ? 0 : entry.full.startsWith(q) || entry.bare.startsWith(q) ? 1 : own === words.length ? 2 : 3;
    const hit: Hit = { entry, rank, own };
    if (best.length === limit && compareHits(hit, best[limit - 1]!) >= 0) continue;
    let i = best.length === limit ? limit - 1 : best.length;
    while (i > 0 && compareHits(hit, best[i - 1]!) < 0) {
      best[i] = best[i - 1]!;
      i--;
    }
    best[i] = hit;
  }
  return best.map((h) => h.entry.unit);
}

interface Hit {
  entry: IndexEntry;
  rank: number;
  /** query words found in the unit's own name */
  own: number;
}

function compareHits(a: Hit, b: Hit): number {
  return (
    a.rank - b.rank ||
    b.own - a.own ||
    a.entry.levelRank - b.entry.levelRank ||
    compare(a.entry.bare, b.entry.bare) ||
    compare(a.entry.unit.code, b.entry.unit.code)
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The unit and its ancestors, root first (province → … → unit); empty for an unknown code. */
export function unitPath(units: readonly UnitDoc[] | UnitIndex, code: string): UnitDoc[] {
  const { byCode } = indexOf(units);
  const unit = byCode.get(code);
  return unit ? [unit, ...ancestors(byCode, unit)].reverse() : [];
}

/** "Xã Tùng Châu, Huyện Đức Thọ, Tỉnh Hà Tĩnh"; the code itself when it is unknown. */
export function unitLabel(units: readonly UnitDoc[] | UnitIndex, code: string): string {
  const path = unitPath(units, code);
  return path.length ? path.map((u) => u.name).reverse().join(', ') : code;
}

/**
 * The zone level that applies to a unit: its own when one is set, else the nearest ancestor's
 * (a province at level 3 makes its communes cam unless a commune has its own level). Null: none set.
 */
export function effectiveZoneLevel(
  units: readonly UnitDoc[] | UnitIndex,
  zones: ReadonlyMap<string, Pick<ZoneDoc, 'level'> & Partial<Pick<ZoneDoc, 'since' | 'before'>>>,
  code: string,
  day: string = dayKey(Date.now())
): ZoneLevel | null {
  const path = unitPath(units, code);
  for (let i = path.length - 1; i >= 0; i--) {
    const zone = zones.get(path[i]!.code);
    const own = zone ? ownZoneOn({ level: zone.level, since: zone.since ?? '', before: zone.before }, day) : undefined;
    if (own) return own;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Scope: an admin's subtree

/** Units by code, for the walks below (one load of lv_directory per request, not a read per step). */
export type UnitTree = ReadonlyMap<string, Pick<UnitDoc, 'code' | 'level' | 'parent'>>;

export function unitTree(units: readonly Pick<UnitDoc, 'code' | 'level' | 'parent'>[]): Map<string, Pick<UnitDoc, 'code' | 'level' | 'parent'>> {
  return new Map(units.map((u) => [u.code, u]));
}

/** Whether `code` is `ancestor` or lies under it. An unknown code lies nowhere. */
export function unitWithin(tree: UnitTree, code: string, ancestor: string): boolean {
  // Province → district → commune: a walk of more than a few steps is a broken tree.
  let at: string | null = tree.has(code) ? code : null;
  for (let depth = 0; at !== null && depth < 6; depth++) {
    if (at === ancestor) return true;
    at = tree.get(at)?.parent ?? null;
  }
  return false;
}

/** The codes from the unit up to its province, the unit first (a broken loop stops). */
function chainUp(tree: UnitTree, code: string): string[] {
  const out: string[] = [];
  for (let at: string | null = tree.has(code) ? code : null; at !== null && !out.includes(at) && out.length < 6; at = tree.get(at)?.parent ?? null) out.push(at);
  return out;
}

/**
 * The lowest unit that holds every one of `codes` (a team's communes in two districts → their
 * province); null when they share none or one is unknown. The unit an account "lives in".
 */
export function commonUnit(tree: UnitTree, codes: readonly string[]): string | null {
  if (codes.length === 0) return null;
  let common = chainUp(tree, codes[0]!);
  for (const code of codes.slice(1)) {
    const chain = new Set(chainUp(tree, code));
    common = common.filter((c) => chain.has(c));
  }
  return common[0] ?? null;
}

// ---------------------------------------------------------------------------------------------
// Import preview: what a file would change

export interface UnitsDiff {
  /** rows outside the scope, by line */
  errors: CsvError[];
  added: UnitDoc[];
  renamed: { code: string; from: string; to: string }[];
  moved: { code: string; name: string; from: string | null; to: string | null }[];
  /** stored units under the scope that the file leaves out (only when the file holds the scope's own row) */
  removed: UnitDoc[];
  unchanged: number;
}

/**
 * What importing `parsed` (parseUnitsCsv's result over `existing`) would change, for an admin of
 * unit `scope` (null: the whole country, as the command runs it). A row must lie within the scope
 * where it is now and where the file puts it: an admin neither takes a unit from beside nor gives
 * one away. The scope's own row may rename it but not move it. A file with the scope's own row is
 * the whole subtree: stored units under the scope that it leaves out are removed (never with a
 * null scope, where no file claims to be the whole country).
 */
export function diffUnits(existing: readonly UnitDoc[], parsed: Pick<UnitsCsvResult, 'units' | 'lines'>, scope: string | null): UnitsDiff {
  const before = unitTree(existing);
  const after = unitTree(existing);
  for (const u of parsed.units) after.set(u.code, u);
  const stored = new Map(existing.map((u) => [u.code, u]));
  const lineOf = (code: string) => parsed.lines.get(code) ?? 1;
  const errors: CsvError[] = [];
  const diff: UnitsDiff = { errors, added: [], renamed: [], moved: [], removed: [], unchanged: 0 };
  const accepted: UnitDoc[] = [];
  for (const unit of parsed.units) {
    const old = stored.get(unit.code);
    if (scope !== null) {
      if (unit.code === scope) {
        if (old && old.parent !== unit.parent) {
          errors.push({ line: lineOf(unit.code), message: `unit ${unit.code} is your own unit: it cannot be moved from here` });
          continue;
        }
      } else if (!unitWithin(after, unit.code, scope) || (old && !unitWithin(before, unit.code, scope))) {
        errors.push({ line: lineOf(unit.code), message: `unit ${unit.code} (${unit.name}) lies outside your unit ${scope}` });
        continue;
      }
    }
    accepted.push(unit);
    if (!old) diff.added.push(unit);
    else {
      if (old.name !== unit.name) diff.renamed.push({ code: unit.code, from: old.name, to: unit.name });
      if (old.parent !== unit.parent) diff.moved.push({ code: unit.code, name: unit.name, from: old.parent, to: unit.parent });
      if (old.name === unit.name && old.parent === unit.parent && old.level === unit.level) diff.unchanged++;
    }
  }
  if (scope !== null && parsed.units.some((u) => u.code === scope)) {
    // Rows with errors count as present: a typo in a row is not a removal.
    const inFile = new Set([...parsed.units.map((u) => u.code), ...parsed.lines.keys()]);
    for (const unit of existing) {
      if (unit.code !== scope && !inFile.has(unit.code) && unitWithin(before, unit.code, scope)) diff.removed.push(unit);
    }
    // A row of the file must not hang from a unit the file removes.
    const gone = new Set(diff.removed.map((u) => u.code));
    for (const unit of accepted) {
      if (unit.parent !== null && gone.has(unit.parent)) {
        errors.push({ line: lineOf(unit.code), message: `parent ${unit.parent} is left out of the file, which removes it` });
      }
    }
  }
  errors.sort(byLine);
  return diff;
}
