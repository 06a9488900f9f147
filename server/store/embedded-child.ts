/**
 * The embedded store's own process (dist/store.mjs): express-pouchdb over PouchDB/LevelDB, on
 * loopback only, started and watched by the server (supervisor.ts). The server reaches it over the
 * CouchDB HTTP API, exactly as it would reach a real cluster. A store bug that throws (pouchdb-node
 * does, in a callback, when it reads a document stored with malformed replication metadata) ends
 * this process only: the server keeps answering and starts the store again on the same port.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import expressPouchDB from 'express-pouchdb';
import PouchDB from 'pouchdb-node';
import type { FromStore, StartStore, StoreFailure, ToStore } from './child-protocol';

// LevelDB creates its files 0644 and its folders 0755, and they hold names, phone numbers and
// entries: owner only. This process writes nothing else, so the mask is set for all of it.
process.umask(0o077);

const send = (msg: FromStore) => process.send?.(msg);

/** A node of a PouchDB revision tree: [hash, status, children]. */
type RevNode = [string, unknown, RevNode[]];
type RevTree = { pos: number; ids: RevNode }[];
type GetCallback = (err: unknown, result?: unknown) => void;
interface LevelApi {
  _get(id: string, opts: { rev?: string; latest?: boolean } | undefined, callback: GetCallback): void;
  _getRevisionTree(id: string, callback: (err: unknown, tree?: RevTree) => void): void;
}

function revInTree(tree: RevTree, rev: string): boolean {
  const toVisit = tree.map((t) => ({ pos: t.pos, node: t.ids }));
  for (let next = toVisit.pop(); next; next = toVisit.pop()) {
    if (`${next.pos}-${next.node[0]}` === rev) return true;
    for (const child of next.node[2]) toVisit.push({ pos: next.pos + 1, node: child });
  }
  return false;
}

// pouchdb-node, asked for `latest` of a revision its document never had (GET ?rev=…&latest=true,
// open_revs or _bulk_get with latest, which anyone may send through the gateway), throws in a
// LevelDB callback and ends this process: every caller then waits for a restart. CouchDB answers
// such a revision as missing; so does this adapter now, before pouchdb-node looks.
{
  const adapters = (PouchDB as unknown as { adapters: Record<string, ((this: LevelApi, ...args: unknown[]) => void) & Record<string, unknown>> }).adapters;
  const leveldb = adapters.leveldb!;
  const safe = Object.assign(function (this: LevelApi, ...args: unknown[]) {
    leveldb.apply(this, args);
    const get = this._get;
    this._get = function (id, opts, callback) {
      if (!opts?.latest || !opts.rev) return get.call(this, id, opts, callback);
      const rev = opts.rev;
      this._getRevisionTree(id, (err, tree) => {
        if (err) return callback(err);
        if (!tree || !revInTree(tree, rev)) return callback(Object.assign(new Error('missing'), { status: 404, name: 'not_found', error: true, reason: 'missing' }));
        get.call(this, id, opts, callback);
      });
    };
  }, leveldb);
  adapters.leveldb = safe;
}

if (!process.send) {
  console.error('This is the embedded store of Lưu Vết: the server starts it (npm start), not by hand.');
  process.exit(2);
}

// Never outlive the server, even one killed with SIGKILL: a leftover store would hold the LevelDB
// lock and the next server could not open DATA_DIR. The IPC channel closes when the server ends.
process.on('disconnect', () => process.exit(0));
// Ctrl-C in a terminal signals the whole process group: the server stops this store itself, in
// order, and would otherwise see it end as if it had failed.
process.on('SIGINT', () => {});

let server: Server | null = null;
let ready = false;

process.on('uncaughtException', (err) => {
  if (!ready) {
    // e.g. the lock of a database opened by a daemon of express-pouchdb, thrown in a callback
    send({ type: 'failed', failure: classify(err), message: err.message });
  } else {
    // Code locations and the error's own words only: no request, no document.
    console.error(`Lưu Vết embedded store stopped on an error (the server starts it again): ${err.stack ?? err.message}`);
  }
  process.exit(1);
});

process.on('message', (msg: ToStore) => {
  if (msg.type === 'start' && !server) {
    start(msg).then(
      (port) => {
        ready = true;
        send({ type: 'ready', port });
      },
      (err: Error) => {
        send({ type: 'failed', failure: classify(err), message: err.message });
        process.exit(1);
      }
    );
  } else if (msg.type === 'stop') {
    if (!server) process.exit(0);
    server.close(() => process.exit(0));
    server.closeAllConnections();
  }
});

async function start({ dataDir, port, password }: StartStore): Promise<number> {
  const dir = path.join(dataDir, 'couch');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  ownerOnly(dir);
  // Versions before this one wrote every request line here (`GET /lv_users/phone%3A…` on every
  // login), readable by all: it names accounts, and nothing needs it.
  rmSync(path.join(dir, 'log.txt'), { force: true });

  const LocalPouch = PouchDB.defaults({ prefix: dir + path.sep });
  // Opening the users database takes its LevelDB lock now, so a DATA_DIR in use by another server
  // (or by a command such as units:import) is said in words before anything listens.
  await new LocalPouch('_users').info();

  const pouchApp = expressPouchDB(LocalPouch, {
    // fullCouchDB brings _security, views and _find; the config lives in memory, so the admin
    // below is created afresh on every start (with a password only the server knows).
    mode: 'fullCouchDB',
    inMemoryConfig: true,
    // The logger of express-pouchdb writes request lines only (paths carry phone numbers and
    // document ids), never errors: no request log and no log file. The store's own failures go
    // to stderr, which the server passes on.
    logPath: os.devNull,
    overrideMode: {
      // disk_size in db info walks the database's folder with lstat, and PouchDB asks for info on
      // every authenticated request (the _users db) and every validated write (the commune db).
      // http-log writes the request lines; _log would serve them.
      exclude: ['disk-size', 'routes/http-log', 'routes/log']
    }
  }) as express.Express & { couchConfig: { set(section: string, key: string, value: string, cb: (err?: Error) => void): void } };
  // Before listening: there is never a moment when the store answers anyone as admin ("admin party").
  await new Promise<void>((resolve, reject) => pouchApp.couchConfig.set('admins', 'lv_server', password, (err) => (err ? reject(err) : resolve())));

  const app = express();
  app.use(pouchApp);
  server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  return (server.address() as AddressInfo).port;
}

/** Files made by older versions, before the umask above: owner only, as new ones are. */
function ownerOnly(dir: string): void {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      const st = lstatSync(file);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) ownerOnly(file);
      if (st.mode & 0o077) chmodSync(file, st.isDirectory() ? 0o700 : 0o600);
    } catch {
      // a file that went away or is not ours: it does not stop the store
    }
  }
}

function classify(err: Error & { code?: string }): StoreFailure {
  const text = `${err.code ?? ''} ${err.message}`;
  if (/IO error: lock|Resource temporarily unavailable/.test(text)) return 'locked';
  if (/EADDRINUSE/.test(text)) return 'port_taken';
  if (/EACCES|EPERM|EROFS|ENOTDIR|EEXIST|ENOSPC|Permission denied|Read-only file system|Not a directory|No space left/.test(text)) return 'not_writable';
  return 'other';
}
