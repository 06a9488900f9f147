// `npm start`: builds the app and the server when a source is newer than the build, then runs it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const SOURCES = ['src', 'server', 'static', 'messages', 'project.inlang/settings.json', 'package.json', 'vite.config.ts', 'svelte.config.js'];
const STAMP = 'dist/server.mjs';

function newest(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of readdirSync(p)) {
    if (entry === 'paraglide' || entry.startsWith('.')) continue; // generated, not a source
    max = Math.max(max, newest(path.join(p, entry)));
  }
  return max;
}

// dist/store.mjs is the embedded store's process, built with dist/server.mjs.
const built = existsSync(STAMP) && existsSync('dist/store.mjs') && existsSync('build/200.html') ? statSync(STAMP).mtimeMs : 0;
if (Math.max(...SOURCES.map(newest)) > built) {
  console.log('Building Lưu Vết (first start or sources changed)…');
  const result = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
const { runFromCli } = await import(path.resolve(STAMP));
runFromCli();
