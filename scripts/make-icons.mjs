// Renders the app icon (static/icons/icon.svg) to the PNG sizes the manifest lists, with Chromium.
// Run by hand when the icon changes: node scripts/make-icons.mjs
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const svg = readFileSync('static/icons/icon.svg', 'utf8');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
for (const [name, size, pad] of [['icon-192.png', 192, 0], ['icon-512.png', 512, 0], ['maskable-512.png', 512, 0.1]]) {
  await page.setViewportSize({ width: size, height: size });
  // Maskable icons keep their drawing inside the central 80 % safe zone.
  const inner = Math.round(size * (1 - 2 * pad));
  await page.setContent(`<body style="margin:0;background:#0b6e4f;display:grid;place-items:center;width:${size}px;height:${size}px">
    <div style="width:${inner}px;height:${inner}px">${svg.replace('<svg', `<svg width="${inner}" height="${inner}"`)}</div></body>`);
  await page.screenshot({ path: `static/icons/${name}`, omitBackground: false });
}
await browser.close();
