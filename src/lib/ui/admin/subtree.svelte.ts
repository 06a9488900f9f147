/**
 * The units under the signed-in admin, as the server scopes them (`GET /api/admin/zones`): the one
 * list the account, zone and statistics screens pick units from, so an admin is never offered a
 * commune outside its unit. Loaded once per visit and again after a change.
 */
import type { ZoneHistoryRow, ZoneRow } from '$lib/core/admin';
import { buildUnitIndex, searchUnits, type UnitDoc, type UnitIndex, type UnitLevel } from '$lib/core/units';
import { zones, type Failure } from '$lib/client/admin';
import { accountManager } from '$lib/client/account.svelte';

class Subtree {
  units = $state.raw<ZoneRow[]>([]);
  history = $state.raw<ZoneHistoryRow[]>([]);
  failure = $state.raw<Failure | null>(null);
  loaded = $state(false);
  #index = $state.raw<UnitIndex | null>(null);
  // State, so that names on screen change from codes to words when the list arrives.
  #byCode = $state.raw(new Map<string, ZoneRow>());
  #loading: Promise<void> | null = null;
  /** whose subtree is held: another admin signing in on this tab gets its own */
  #owner: string | undefined;

  load(force = false): Promise<void> {
    const owner = accountManager.account?.userId;
    if (this.#loading && !force && owner === this.#owner) return this.#loading;
    this.#owner = owner;
    this.#loading = (async () => {
      const answer = await zones();
      if (!answer.ok) {
        this.failure = answer;
        // A later visit to a screen tries again.
        this.#loading = null;
        return;
      }
      this.failure = null;
      this.#byCode = new Map(answer.data.units.map((u) => [u.code, u]));
      this.#index = buildUnitIndex(answer.data.units.map((u): UnitDoc => ({ _id: `unit:${u.code}`, type: 'unit', schema: 1, code: u.code, name: u.name, level: u.level, parent: u.parent })));
      this.units = answer.data.units;
      this.history = answer.data.history;
      this.loaded = true;
    })();
    return this.#loading;
  }

  get(code: string): ZoneRow | undefined {
    return this.#byCode.get(code);
  }

  /** The unit's own name ("Xã Tùng Châu"); the code when it is not in the subtree. */
  name(code: string): string {
    return this.#byCode.get(code)?.name ?? code;
  }

  search(query: string, level: UnitLevel, limit = 12): ZoneRow[] {
    if (!this.#index) return [];
    return searchUnits(this.#index, query, { level, limit }).map((u) => this.#byCode.get(u.code)!);
  }

  /** Depth below the subtree's top, for indenting a tree. */
  depth(code: string): number {
    let depth = 0;
    for (let at = this.#byCode.get(code)?.parent; at && this.#byCode.has(at) && depth < 3; at = this.#byCode.get(at)?.parent) depth++;
    return depth;
  }

  /** Units in tree order: each unit followed by its children, alphabetically within a parent. */
  ordered(): ZoneRow[] {
    const children = new Map<string | null, ZoneRow[]>();
    for (const u of this.units) {
      const parent = u.parent && this.#byCode.has(u.parent) ? u.parent : null;
      children.set(parent, [...(children.get(parent) ?? []), u]);
    }
    const out: ZoneRow[] = [];
    const walk = (parent: string | null) => {
      for (const u of (children.get(parent) ?? []).sort((a, b) => a.name.localeCompare(b.name, 'vi'))) {
        out.push(u);
        walk(u.code);
      }
    };
    walk(null);
    return out;
  }
}

export const subtree = new Subtree();
