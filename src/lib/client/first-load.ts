/**
 * A team device's first load of a commune database, before its live sync starts.
 *
 * PouchDB's replicator fetches a batch's changes, then posts a `_bulk_get` naming every id and
 * revision of the batch, then writes checkpoints; and the push side of a sync asks the server
 * (`_revs_diff`) about every document the pull has just written. On a 1 Mbit/s link with 300 ms a
 * trip, a commune of 50,000 documents sent 9 MiB up during what is a download (bench/replica.mjs).
 * Here the gateway's `_changes?include_docs=true` gives a page of rows with their documents in one
 * answer; the device stores them as the server has them (`new_edits: false`) and the live sync then
 * starts from where the load ended: its pull from the server's sequence read last, its push from
 * the device's sequence after the load, so that what was just pulled is not offered back. A record
 * made on the device during the load (another tab, a form) is found by its local sequence, which
 * the load did not write, and pushed by id before the live sync starts.
 *
 * Plain TS (no runes): the integration tests run it against the real gateway.
 */

/** The load's progress, kept by the caller (localStorage on a phone) so a reload resumes it. */
export interface FirstLoadProgress {
  /** The server's sequence the next page starts after. */
  since: string | number;
  /** The device database's update_seq after the last page was written. */
  localSeq: number;
  /** Documents written on the device while the load ran: pushed by id before the live sync starts. */
  localWrites: string[];
  /** Documents with more than one leaf revision: fetched by the replicator, which brings every leaf. */
  conflicted: string[];
}

/** Where the live sync starts once the load is done. */
export interface SyncStart {
  pull: string | number;
  push: number;
}

export class FirstLoadRefused extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

interface ChangeRow {
  id: string;
  seq?: unknown;
  deleted?: boolean;
  changes?: { rev: string }[];
  doc?: Record<string, unknown> & { _id: string; _rev: string };
}
interface ChangesPage {
  results: ChangeRow[];
  last_seq: string | number;
  pending?: number;
}

export interface FirstLoadOptions {
  /** `${origin}/sync/<db>` */
  url: string;
  /** Rows a page; the gateway takes up to 5,000. */
  pageSize?: number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** The progress to resume from (null: a fresh start). */
  progress: FirstLoadProgress | null;
  save(progress: FirstLoadProgress): void;
  /** After each page: what the server says is left, when it says. */
  onPage?(pending: number | undefined, loaded: number): void;
  /** Brings documents with conflicts through the replicator (it fetches every leaf with its history). */
  pullIds(ids: string[]): Promise<void>;
  /** Pushes documents written on the device during the load (the replicator asks the server which revisions it lacks). */
  pushIds(ids: string[]): Promise<void>;
}

export const FIRST_LOAD_PAGE = 5000;

/** Whether a device database is empty and so may be first-loaded (a device that wrote or synced anything syncs as before). */
export async function mayFirstLoad(db: PouchDB.Database): Promise<boolean> {
  const info = await db.info();
  return Number(info.update_seq) === 0;
}

export async function firstLoad(db: PouchDB.Database, options: FirstLoadOptions): Promise<SyncStart> {
  const doFetch = options.fetch ?? fetch;
  const pageSize = options.pageSize ?? FIRST_LOAD_PAGE;
  const localSeq = async () => Number((await db.info()).update_seq);
  // A fresh load starts from the empty database (mayFirstLoad saw sequence 0), not from the sequence
  // read now: a record saved between that check and this line (an owner's first venue, saved as its
  // commune's replica opens) would otherwise count as already there, and never go up.
  const fresh = (): FirstLoadProgress => ({ since: 0, localSeq: 0, localWrites: [], conflicted: [] });
  let progress: FirstLoadProgress = options.progress ?? fresh();
  // A mark that outlived its database (removed and made again): nothing of it is here, so from the start.
  if (options.progress && (await localSeq()) < options.progress.localSeq) progress = fresh();

  /** Ids changed on the device after `from` other than by the load (`loaded`: id -> revision it wrote). */
  const writesSince = async (from: number, loaded: Map<string, string>) => {
    const rows = (await db.changes({ since: from, style: 'all_docs', return_docs: true })).results;
    const ids = rows.filter((row) => !(row.changes.length === 1 && loaded.get(row.id) === row.changes[0]!.rev)).map((row) => row.id);
    if (ids.length) progress = { ...progress, localWrites: [...new Set([...progress.localWrites, ...ids])] };
  };

  const fetchPage = async (since: string | number): Promise<ChangesPage> => {
    const query = new URLSearchParams({ style: 'all_docs', include_docs: 'true', limit: String(pageSize), since: String(since) });
    const res = await doFetch(`${options.url}/_changes?${query}`, { signal: options.signal, credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { reason?: string };
      throw new FirstLoadRefused(res.status, body.reason ?? `HTTP ${res.status}`);
    }
    return (await res.json()) as ChangesPage;
  };

  let loaded = 0;
  let next: Promise<ChangesPage> | null = fetchPage(progress.since);
  while (next) {
    const page: ChangesPage = await next;
    const done = page.results.length === 0 || page.pending === 0;
    // The next page travels while this one is written: the phone's IndexedDB and the link work at once.
    next = done ? null : fetchPage(page.last_seq);
    next?.catch(() => {});
    const docs: Record<string, unknown>[] = [];
    const conflicted: string[] = [];
    for (const row of page.results) {
      // A deleted document is nothing to an empty device; a conflicted one needs every leaf, not the winner only.
      if (row.deleted || !row.doc) continue;
      if ((row.changes?.length ?? 1) > 1) conflicted.push(row.id);
      else docs.push(row.doc);
    }
    const before = await localSeq();
    if (docs.length) {
      const results = await db.bulkDocs(docs, { new_edits: false });
      const failed = (results as { error?: unknown }[]).find((r) => r.error);
      if (failed) throw new Error(`storing the first load failed: ${JSON.stringify(failed)}`);
    }
    options.signal?.throwIfAborted();
    const after = await localSeq();
    // One new local sequence a document written, and none since the last page: else the device wrote too.
    if (before !== progress.localSeq || after - before !== docs.length) await writesSince(progress.localSeq, new Map(docs.map((d) => [d._id as string, d._rev as string])));
    loaded += docs.length;
    progress = { ...progress, since: page.last_seq, localSeq: after, conflicted: [...progress.conflicted, ...conflicted] };
    options.save(progress);
    options.onPage?.(page.pending, loaded);
  }

  if (progress.conflicted.length) {
    const ids = [...new Set(progress.conflicted)];
    for (let i = 0; i < ids.length; i += 1000) await options.pullIds(ids.slice(i, i + 1000));
    progress = { ...progress, conflicted: [] };
  }
  // Written by the replicator (conflicts), or on the device after the last page: pushed by id, a few documents.
  const end = await localSeq();
  if (end !== progress.localSeq) await writesSince(progress.localSeq, new Map());
  progress = { ...progress, localSeq: end };
  options.save(progress);
  if (progress.localWrites.length) {
    const ids = progress.localWrites;
    for (let i = 0; i < ids.length; i += 1000) await options.pushIds(ids.slice(i, i + 1000));
    progress = { ...progress, localWrites: [] };
    options.save(progress);
  }
  return { pull: progress.since, push: end };
}
