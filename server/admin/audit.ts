/**
 * The audit trail of admin work (`audit:<ISO time>:<random>` in lv_users, server only): who changed
 * what, when, and in which unit. The admins of that unit and of the units above read it.
 */
import { randomBytes } from 'node:crypto';
import type { AuditEvent } from '../../src/lib/core/admin';
import { unitWithin, type UnitTree } from '../../src/lib/core/units';
import { DB, type Store } from '../store/couch';

interface AuditDoc extends AuditEvent {
  _id: string;
  _rev?: string;
  type: 'audit';
  schema: 1;
}

export async function writeAudit(store: Store, event: Omit<AuditEvent, 'at'>): Promise<AuditEvent> {
  const at = new Date().toISOString();
  const doc: AuditDoc = { _id: `audit:${at}:${randomBytes(6).toString('hex')}`, type: 'audit', schema: 1, at, ...event };
  await store.db<AuditDoc>(DB.users).insert(doc);
  return { at, ...event };
}

/** Events scanned at most per read: an admin of a small unit under a busy province gets fewer, not a slow answer. */
const SCAN_MAX = 20_000;

/** Events whose unit lies within `unit`, newest first, older than `before` (an ISO time) when given. */
export async function readAudit(store: Store, tree: UnitTree, unit: string, opts: { before?: string; limit: number }): Promise<AuditEvent[]> {
  const db = store.db<AuditDoc>(DB.users);
  const out: AuditEvent[] = [];
  const page = 500;
  // Descending: from just below `audit:<before>` down to `audit:`.
  let startkey = opts.before ? `audit:${opts.before}` : 'audit:\ufff0';
  for (let scanned = 0; scanned < SCAN_MAX; ) {
    const res = await db.list({ descending: true, startkey, endkey: 'audit:', include_docs: true, limit: page + 1 });
    const rows = res.rows.slice(0, page);
    scanned += rows.length;
    for (const row of rows) {
      const doc = row.doc as AuditDoc | undefined;
      if (doc?.type !== 'audit' || !unitWithin(tree, doc.unit, unit)) continue;
      const { _id: _i, _rev: _r, type: _t, schema: _s, ...event } = doc;
      out.push(event);
      if (out.length >= opts.limit) return out;
    }
    if (res.rows.length <= page) return out;
    startkey = res.rows[page]!.id;
  }
  return out;
}
