/**
 * Which province a commune belongs to, for a phone that must not ask anybody.
 *
 * A phone fetches the exposure events of the provinces where its visits were. Asking the server
 * "which province is commune 18070 in?" would tell it where the citizen has been, so the server
 * publishes the whole mapping instead (`/api/provinces`, the same for every phone) and the phone
 * looks its communes up itself. The mapping is kept small by runs: communes are numbered province by
 * province in the national list, so a province is a handful of [first, last] code ranges.
 */
import * as v from 'valibot';
import { unitPath, type UnitDoc, type UnitIndex } from './units';

export const ProvinceTableSchema = v.object({
  format: v.literal('luu-vet-provinces'),
  version: v.literal(1),
  provinces: v.array(v.object({ code: v.pipe(v.string(), v.regex(/^[0-9]{2}$/)), name: v.pipe(v.string(), v.maxLength(100)) })),
  /** [first commune code, last commune code, province code], sorted, not overlapping */
  communes: v.array(v.tuple([v.pipe(v.string(), v.regex(/^[0-9]{5}$/)), v.pipe(v.string(), v.regex(/^[0-9]{5}$/)), v.pipe(v.string(), v.regex(/^[0-9]{2}$/))]))
});
export type ProvinceTable = v.InferOutput<typeof ProvinceTableSchema>;

/** The table for a directory: each run of consecutive (by code) communes of one province is one range. */
export function buildProvinceTable(units: readonly UnitDoc[] | UnitIndex): ProvinceTable {
  const list = 'units' in units ? units.units : units;
  const provinces = list
    .filter((u) => u.level === 'province')
    .map((u) => ({ code: u.code, name: u.name }))
    .sort((a, b) => a.code.localeCompare(b.code));
  const communes = list.filter((u) => u.level === 'commune').sort((a, b) => a.code.localeCompare(b.code));
  const ranges: [string, string, string][] = [];
  for (const commune of communes) {
    const province = unitPath(units, commune.code)[0];
    if (!province || province.level !== 'province') continue; // an orphan commune has no province to fetch
    const last = ranges.at(-1);
    if (last && last[2] === province.code) last[1] = commune.code;
    else ranges.push([commune.code, commune.code, province.code]);
  }
  return { format: 'luu-vet-provinces', version: 1, provinces, communes: ranges };
}

/** The province of a commune code, or null when the table does not cover it. Binary search over the runs. */
export function provinceOfCommune(table: Pick<ProvinceTable, 'communes'>, communeCode: string): string | null {
  const ranges = table.communes;
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [first, last, province] = ranges[mid]!;
    if (communeCode < first) hi = mid - 1;
    else if (communeCode > last) lo = mid + 1;
    else return province;
  }
  return null;
}

/** A table received from the network, or null when it is not one (a captive portal page, a cut download). */
export function readProvinceTable(json: unknown): ProvinceTable | null {
  const parsed = v.safeParse(ProvinceTableSchema, json);
  return parsed.success ? parsed.output : null;
}
