/**
 * The fetch under a replica's remote database: its pull reads each batch's documents in the same
 * answer as the batch's changes, instead of asking for them again.
 *
 * PouchDB's replicator reads `_changes`, then posts a `_bulk_get` naming every id and revision it
 * lacks, and only then writes the batch. On a 1 Mbit/s link with 300 ms a trip, a day's delta of
 * 2,000 documents sent 200 KB of ids up (as much as its documents brought down) and waited a round
 * trip a batch for them (bench/replica.mjs). Here the replicator's `_changes` read asks the gateway
 * for the documents too (`include_docs=true&revs=true`: every leaf revision with its history, as
 * `_bulk_get?revs=true` gives it), keeps them aside, hands the replicator the rows it expects, and
 * answers the `_bulk_get` that follows from what it kept. The replicator still decides everything
 * (what is missing, conflicts, checkpoints): a revision not kept is asked of the server as before.
 *
 * Plain TS (no runes): the integration tests run it against the real gateway.
 */

/** Rows a `_changes` read with documents may ask for (the gateway's CHANGES_LEAVES_MAX_LIMIT). */
const MAX_ROWS = 1000;
/**
 * Reads whose documents are kept. The replicator reads up to 10 batches ahead of the one it writes;
 * documents it never asks for (revisions the device has: its own writes coming back) go after as
 * many reads again, so that a phone syncing all day does not pile them up. One dropped too soon is
 * asked for as before.
 */
const KEPT_READS = 10;

type Fetch = typeof fetch;
type Doc = { _id: string; _rev: string };

const key = (id: string, rev: string) => `${id}\n${rev}`;

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
}

export function changesWithDocs(base: Fetch): Fetch {
  /** id and revision -> the document and the read that brought it (Map order: oldest first). */
  const kept = new Map<string, { doc: Doc; read: number }>();
  let reads = 0;
  /** Cleared when the gateway refuses the read with documents (a server from before it): the replicator's own reads then. */
  let ask = true;

  const changes = async (url: URL, init: RequestInit | undefined): Promise<Response> => {
    const withDocs = new URL(url);
    withDocs.searchParams.set('include_docs', 'true');
    withDocs.searchParams.set('revs', 'true');
    const res = await base(withDocs.href, init);
    if (res.status === 400) {
      ask = false;
      return base(url.href, init);
    }
    if (!res.ok) return res;
    const body = (await res.json()) as { results?: { id: string; docs?: Doc[] }[] };
    const read = ++reads;
    for (const [k, v] of kept) {
      if (v.read > read - KEPT_READS) break;
      kept.delete(k);
    }
    for (const row of body.results ?? []) {
      for (const doc of row.docs ?? []) {
        const k = key(doc._id, doc._rev);
        kept.delete(k);
        kept.set(k, { doc, read });
      }
      delete row.docs;
    }
    return json(body);
  };

  const bulkGet = async (url: URL, init: RequestInit | undefined): Promise<Response> => {
    const asked = (JSON.parse(String(init!.body)) as { docs: { id: string; rev?: string }[] }).docs;
    const results: { id: string; docs: { ok: Doc }[] }[] = [];
    const rest: { id: string; rev?: string }[] = [];
    for (const entry of asked) {
      const doc = entry.rev === undefined ? undefined : kept.get(key(entry.id, entry.rev))?.doc;
      if (doc) {
        kept.delete(key(entry.id, entry.rev!));
        results.push({ id: entry.id, docs: [{ ok: doc }] });
      } else rest.push(entry);
    }
    if (!rest.length) return json({ results });
    const res = await base(url.href, { ...init, body: JSON.stringify({ docs: rest }) });
    if (!res.ok || !results.length) return res;
    const fetched = (await res.json()) as { results: unknown[] };
    return json({ results: [...results, ...fetched.results] });
  };

  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, typeof location === 'undefined' ? undefined : location.href);
    const method = (init?.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const q = url.searchParams;
    // The replicator's read of a batch: all leaves, a bounded batch, no filter (a doc_ids read is a POST).
    if (ask && method === 'GET' && path.endsWith('/_changes') && q.get('style') === 'all_docs' && !q.has('include_docs') && Number(q.get('limit')) >= 1 && Number(q.get('limit')) <= MAX_ROWS && q.get('feed') !== 'continuous')
      return changes(url, init);
    // The documents of a batch, with their history: from what the read above kept, when it kept them.
    if (method === 'POST' && path.endsWith('/_bulk_get') && q.get('revs') === 'true' && kept.size > 0 && typeof init?.body === 'string') return bulkGet(url, init);
    return base(input, init);
  }) as Fetch;
}
