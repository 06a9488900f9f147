/**
 * `npm run user:add` and `npm run units:import` while the server runs on its embedded store (the
 * command goes through the server's store, DATA_DIR/store.json), and after it stopped (the command
 * starts the store itself, even when a killed server left a stale file behind).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GiveUp, killServers, removeServerBundle, spawnServer, until, type ServerProcess } from './server-process';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let tmp: string;
let dataDir: string;
let base: string;
let env: Record<string, string>;
let server: ServerProcess | null = null;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Runs an npm command's script as `npm run` does, in the project, on the test's DATA_DIR. */
function command(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { COUCHDB_URL: _shell, LV_TEST_COUCHDB_URL: _suite, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/run-ts.mjs', script, ...args], { cwd: ROOT, env: { ...inherited, DATA_DIR: dataDir }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function login(phone: string, password: string) {
  const res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone, password }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lv-admin-cli-'));
  dataDir = path.join(tmp, 'data');
  const staticDir = path.join(tmp, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = { PORT: String(port), DATA_DIR: dataDir, STATIC_DIR: staticDir, LOG: '0', PUBLIC_ORIGIN: base };
  server = await spawnServer(env);
  const proc = server;
  await until('the server to answer', async () => {
    if (proc.proc.exitCode !== null) throw new GiveUp(`the server ended: ${proc.output().stderr}`);
    return (await fetch(`${base}/api/health`).then((r) => r.status === 200).catch(() => false)) ? true : undefined;
  });
}, 180_000);

afterAll(() => {
  killServers();
  removeServerBundle();
  rmSync(tmp, { recursive: true, force: true });
});

describe('commands while the server runs', () => {
  it('the server leaves the store address in DATA_DIR/store.json, for its owner only', () => {
    const mode = statSync(path.join(dataDir, 'store.json')).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it('user:add makes an admin through the running server; it logs in with the one-time password', async () => {
    const run = await command('server/user-add.ts', ['--', '--phone', '0912345001', '--role', 'admin', '--unit', '440', '--name', 'Lê Văn Huyện', '--position', 'Trưởng phòng Y tế']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('running server');
    const password = /one-time password: (\S+)/.exec(run.stdout)?.[1];
    expect(password).toMatch(/^[a-hjkmnp-z2-9]{10}$/);
    const res = await login('0912345001', password!);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ role: 'admin', unit: '440', position: 'Trưởng phòng Y tế', mustChangePassword: true });
  }, 120_000);

  it('user:add refuses an admin without a unit, of a commune or of an unknown unit, and unknown communes', async () => {
    const noUnit = await command('server/user-add.ts', ['--phone', '0912345002', '--role', 'admin']);
    expect(noUnit.code).toBe(2);
    expect(noUnit.stderr).toContain('--unit');
    const commune = await command('server/user-add.ts', ['--phone', '0912345002', '--role', 'admin', '--unit', '18070']);
    expect(commune.code).toBe(1);
    expect(commune.stderr).toContain('not a province or district');
    const unknown = await command('server/user-add.ts', ['--phone', '0912345002', '--role', 'admin', '--unit', '98']);
    expect(unknown.code).toBe(1);
    const team = await command('server/user-add.ts', ['--phone', '0912345002', '--role', 'team', '--communes', '18070,18999']);
    expect(team.code).toBe(1);
    expect(team.stderr).toContain('18999');
    expect((await login('0912345002', 'whatever-it-is')).status).toBe(401);
  }, 180_000);

  it('units:import writes through the running server, and the unit reaches /sync/lv_directory', async () => {
    const file = path.join(tmp, 'units.csv');
    writeFileSync(file, 'code,name,level,parent\n18199,Xã Dòng Lệnh,commune,440\n');
    const run = await command('server/units-import.ts', ['--', file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("running server's embedded store");
    const changes = (await (await fetch(`${base}/sync/lv_directory/_changes?since=0`)).json()) as { results: { id: string }[] };
    expect(changes.results.map((r) => r.id)).toContain('unit:18199');
  }, 120_000);
});

describe('commands after the server stopped', () => {
  it('the file goes on a clean stop; a stale one of a killed server does not stop the command', async () => {
    server!.proc.kill('SIGTERM');
    await server!.exited;
    expect(existsSync(path.join(dataDir, 'store.json'))).toBe(false);
    // As a server killed with SIGKILL leaves it: an address where nothing answers now.
    writeFileSync(path.join(dataDir, 'store.json'), JSON.stringify({ url: `http://lv_server:x@127.0.0.1:${await freePort()}`, pid: 1 }), { mode: 0o600 });
    const run = await command('server/user-add.ts', ['--phone', '0912345003', '--role', 'team', '--communes', '18199', '--password', 'mat-khau-dai']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('running server');
    expect(run.stdout).not.toContain('one-time');
  }, 120_000);
});
