/**
 * The replication metadata of a pushed document (`_rev`, `_revisions`, `_deleted`), checked before
 * anything reaches the store. The store trusts it: pouchdb-node, given `new_edits: false` and a
 * `_revisions` whose ids do not match its `_rev` (or are empty, or not a list), stores a revision
 * tree it cannot read back, and the next `_changes` read throws in a callback and kills the process
 * that holds the store, again after every restart. CouchDB is stricter, but the gateway is the one
 * boundary for both stores.
 */

/** A revision as PouchDB and CouchDB write it: generation, dash, hex digest. */
export const REV_PATTERN = /^([1-9][0-9]{0,8})-([0-9a-f]{1,64})$/;
/** Revisions of history a client may send for one document (PouchDB's revs_limit is 1,000). */
const MAX_REVISION_IDS = 1000;
/** The `_` fields a pushed document may carry; everything else (`_attachments`, `_conflicts`…) is refused. */
const ALLOWED_META = new Set(['_id', '_rev', '_revisions', '_deleted']);

export type Meta = { _id: string; _rev?: string; _revisions?: { start: number; ids: string[] }; _deleted?: true };

/** The metadata to store, or why it is refused. */
export function checkReplicationMeta(raw: unknown, newEdits: boolean): { ok: true; meta: Meta } | { ok: false; reason: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'a document must be a JSON object' };
  const doc = raw as Record<string, unknown>;
  for (const key of Object.keys(doc)) if (key.startsWith('_') && !ALLOWED_META.has(key)) return { ok: false, reason: `field ${key.slice(0, 40)} is not accepted` };
  if (typeof doc._id !== 'string' || doc._id === '') return { ok: false, reason: 'missing _id' };
  const meta: Meta = { _id: doc._id };
  if (doc._deleted !== undefined) {
    if (typeof doc._deleted !== 'boolean') return { ok: false, reason: '_deleted must be true or false' };
    if (doc._deleted) meta._deleted = true;
  }
  let rev: RegExpExecArray | null = null;
  if (doc._rev !== undefined) {
    rev = typeof doc._rev === 'string' ? REV_PATTERN.exec(doc._rev) : null;
    if (!rev) return { ok: false, reason: '_rev must look like <generation>-<hex>' };
    meta._rev = doc._rev as string;
  }
  if (!newEdits && !rev) return { ok: false, reason: 'a replicated document (new_edits: false) needs its _rev' };
  if (doc._revisions !== undefined) {
    const revisions = doc._revisions as { start?: unknown; ids?: unknown };
    if (typeof revisions !== 'object' || revisions === null) return { ok: false, reason: '_revisions must be an object' };
    const { start, ids } = revisions;
    if (!Number.isSafeInteger(start) || (start as number) < 1) return { ok: false, reason: '_revisions.start must be a whole number from 1' };
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_REVISION_IDS) return { ok: false, reason: `_revisions.ids must list 1 to ${MAX_REVISION_IDS} revisions` };
    if (!ids.every((id) => typeof id === 'string' && /^[0-9a-f]{1,64}$/.test(id))) return { ok: false, reason: '_revisions.ids must be hex digests' };
    if (ids.length > (start as number)) return { ok: false, reason: '_revisions lists more revisions than its start allows' };
    // The history must end at the revision being pushed, or the store files it under another name.
    if (!rev || Number(rev[1]) !== start || rev[2] !== ids[0]) return { ok: false, reason: '_revisions does not match _rev' };
    meta._revisions = { start: start as number, ids: ids as string[] };
  }
  return { ok: true, meta };
}
