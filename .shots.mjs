import path from 'node:path';
import { ROOT, launchChromium, startBenchServer, tempDirs } from './bench/lib.mjs';
const dirs = tempDirs('lv-shots-');
const server = await startBenchServer(path.join(ROOT, 'dist/server.mjs'), { DATA_DIR: dirs.data, STATIC_DIR: path.join(ROOT, 'build'), PUBLIC_ORIGIN: undefined });
const browser = await launchChromium();
const venues = (await (await fetch(`${server.url}/api/demo`)).json()).venues;
const pages = { home: '/', scan: '/scan', diary: '/diary', me: '/me', alerts: '/alerts', settings: '/settings', c: venues[0].url.replace(/^https?:\/\/[^/]+/, server.url).replace(server.url, ''), venue: '/venue', team: '/team', admin: '/admin' };
const only = process.argv.slice(2);
for (const js of [false, true]) for (const lang of ['vi', 'en']) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: js });
  if (lang === 'en') await ctx.addInitScript(() => localStorage.setItem('PARAGLIDE_LOCALE', 'en'));
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
  for (const [name, p] of Object.entries(pages)) {
    if (only.length && !only.includes(name)) continue;
    await page.goto(server.url + p);
    await page.waitForTimeout(js ? 1200 : 200);
    await page.screenshot({ path: `/tmp/paint-shots/${name}-${lang}-${js ? 'js' : 'nojs'}.png` });
  }
  if (errors.length) console.log(lang, js, errors.slice(0, 8));
  await ctx.close();
}
await browser.close(); await server.close(); dirs.remove();
