/**
 * The team's export for the health centre: its cases, the contacts and arrivals under follow-up
 * with their daily checks, and every checkpoint arrival, as tables for CSV and XLSX. Built from the
 * team's device data; a document of a commune the team does not hold is left out here too (the
 * replica holds only the team's communes, and this is the second wall: a file leaves the device).
 * Dates dd/mm/yyyy, times 24 h, in Vietnam's time; headers and values in the words given.
 */
import { classificationOf, followupStatus, isolationEnd, lastCheck, type FollowupClass, type FollowupStatus } from './followup';
import type { CaseRecord, FollowupRecord, StationEntryRecord } from '../documents';
import type { PersonRecord } from '../person';
import type { Symptom } from '../citizen/personal-qr';
import { clockTime, dayKey, dmy } from '../time';

export interface ExportTable {
  /** the sheet's name, and the CSV file's */
  name: string;
  header: string[];
  rows: (string | number)[][];
}

export interface ExportLabels {
  tables: { cases: string; followups: string; checks: string; arrivals: string };
  columns: {
    commune: string;
    name: string;
    phone: string;
    idNumber: string;
    birthYear: string;
    address: string;
    caseId: string;
    confirmedOn: string;
    status: string;
    places: string;
    notes: string;
    classification: string;
    metOn: string;
    fromUnit: string;
    zone: string;
    symptoms: string;
    isolationFrom: string;
    isolationUntil: string;
    test: string;
    testedOn: string;
    closedReason: string;
    checks: string;
    lastCheck: string;
    checkedOn: string;
    checkedAt: string;
    temperature: string;
    note: string;
    checkpoint: string;
    arrivedOn: string;
    arrivedAt: string;
    declaredOn: string;
    vaccineDoses: string;
    contactWithCase: string;
    underFollowup: string;
  };
  caseStatus: Record<CaseRecord['status'], string>;
  followupStatus: Record<FollowupStatus, string>;
  classes: Record<FollowupClass, string>;
  tests: Record<FollowupRecord['test'], string>;
  closeReasons: Record<NonNullable<FollowupRecord['closedReason']>, string>;
  symptom: (s: Symptom | string) => string;
  unit: (code: string) => string;
  zone: (level: number) => string;
  yes: string;
  no: string;
  none: string;
}

export interface ExportData {
  cases: readonly CaseRecord[];
  followups: readonly FollowupRecord[];
  /** entries at the communes' checkpoints, with the checkpoint's name */
  arrivals: readonly { entry: StationEntryRecord; checkpoint: string }[];
}

const birth = (p: PersonRecord) => (p.birthDate ? dmy(p.birthDate) : p.birthYear ? String(p.birthYear) : '');
const day = (ms: number) => dmy(dayKey(ms));
const optDay = (d: string | undefined) => (d ? dmy(d) : '');
/** Each number text stays text: a spreadsheet would drop a phone's leading 0 or round an id number. */
const personCells = (p: PersonRecord) => [p.name, p.phone ?? '', p.idNumber ?? '', birth(p), p.address ?? ''];

/**
 * The four tables, only of `communes`, newest first. `now` decides due and overdue. Number cells
 * are numbers (temperatures, doses, counts), every other cell text.
 */
export function exportTables(data: ExportData, communes: readonly string[], labels: ExportLabels, now: number): ExportTable[] {
  const ours = (c: string) => communes.includes(c);
  const c = labels.columns;
  const person = [c.name, c.phone, c.idNumber, c.birthYear, c.address];
  const symptoms = (list: readonly string[] | undefined) => (list?.length ? list.map(labels.symptom).join(', ') : labels.none);

  const cases = data.cases.filter((k) => ours(k.communeCode)).sort((a, b) => b.confirmedOn.localeCompare(a.confirmedOn));
  const followups = data.followups.filter((f) => ours(f.communeCode)).sort((a, b) => b.at - a.at);
  const arrivals = data.arrivals.filter((a) => ours(a.entry.communeCode)).sort((a, b) => b.entry.time - a.entry.time);
  const followed = new Set(followups.map((f) => f.entryId));
  const caseName = new Map(cases.map((k) => [k.caseId, k.person.name]));

  return [
    {
      name: labels.tables.cases,
      header: [c.commune, c.caseId, ...person, c.confirmedOn, c.status, c.places, c.notes],
      rows: cases.map((k) => [labels.unit(k.communeCode), k.caseId, ...personCells(k.person), dmy(k.confirmedOn), labels.caseStatus[k.status], k.visits.length, k.notes ?? ''])
    },
    {
      name: labels.tables.followups,
      header: [c.commune, c.classification, ...person, c.caseId, c.metOn, c.fromUnit, c.zone, c.symptoms, c.isolationFrom, c.isolationUntil, c.status, c.checks, c.lastCheck, c.test, c.testedOn, c.closedReason, c.notes],
      rows: followups.map((f) => {
        const last = lastCheck(f);
        return [
          labels.unit(f.communeCode),
          labels.classes[classificationOf(f)],
          ...personCells(f.person),
          f.caseId ? `${f.caseId}${caseName.has(f.caseId) ? ` (${caseName.get(f.caseId)})` : ''}` : '',
          `${day(f.at)} ${clockTime(f.at)}`,
          f.fromUnit ? labels.unit(f.fromUnit) : '',
          f.fromZone ? labels.zone(f.fromZone) : '',
          f.kind === 'arrival' ? symptoms(f.symptoms) : '',
          optDay(f.isolationFrom),
          dmy(isolationEnd(f)),
          labels.followupStatus[followupStatus(f, now)],
          f.checks?.length ?? 0,
          last ? `${day(last.at)} ${clockTime(last.at)}` : '',
          labels.tests[f.test],
          optDay(f.testedOn),
          f.state === 'closed' && f.closedReason ? labels.closeReasons[f.closedReason] : '',
          f.notes ?? ''
        ];
      })
    },
    {
      name: labels.tables.checks,
      header: [c.commune, c.classification, c.name, c.phone, c.checkedOn, c.checkedAt, c.symptoms, c.temperature, c.note],
      rows: followups.flatMap((f) =>
        [...(f.checks ?? [])]
          .sort((a, b) => b.at - a.at)
          .map((k) => [labels.unit(f.communeCode), labels.classes[classificationOf(f)], f.person.name, f.person.phone ?? '', day(k.at), clockTime(k.at), symptoms(k.symptoms), k.temperature ?? '', k.note ?? ''])
      )
    },
    {
      name: labels.tables.arrivals,
      header: [c.commune, c.checkpoint, c.arrivedOn, c.arrivedAt, ...person, c.fromUnit, c.zone, c.symptoms, c.contactWithCase, c.declaredOn, c.vaccineDoses, c.underFollowup],
      rows: arrivals.map(({ entry: e, checkpoint }) => {
        const d = e.declaration;
        return [
          labels.unit(e.communeCode),
          checkpoint,
          day(e.time),
          clockTime(e.time),
          ...personCells(e.person),
          d?.fromUnit ? labels.unit(d.fromUnit) : '',
          d?.fromZone ? labels.zone(d.fromZone) : '',
          d ? symptoms(d.symptoms) : '',
          d?.contactWithCase === undefined ? '' : d.contactWithCase ? labels.yes : labels.no,
          optDay(d?.declaredOn ?? d?.date),
          d?.vaccineDoses ?? '',
          followed.has(e._id) ? labels.yes : labels.no
        ];
      })
    }
  ];
}

/** A file name for the export: the table (without accents, which some mail clients mangle), the commune, the day year first so that files sort by it. */
export function exportFileName(table: string, commune: string, now: number, ext: 'csv' | 'xlsx'): string {
  const safe = table
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
  return `${safe || 'export'}-${commune}-${dayKey(now)}.${ext}`;
}
