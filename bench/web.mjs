#!/usr/bin/env node
// CPU time per 1280x720 camera frame delivered to JavaScript in headless Chromium:
// @miniav/web vs the canvas drawImage + getImageData loop vs a bare MediaStreamTrackProcessor
// + copyTo loop (the limit). Chromium's fake camera at 30 fps; renderer CPU time from the
// DevTools protocol (SystemInfo.getProcessInfo), over exactly the frames copied.
//
//   node bench/web.mjs [--frames 300] [--runs 1] [--cases canvas,bare,miniav] [--flags '--disable-gpu']
// Needs Debian's chromium (/usr/bin/chromium or CHROMIUM_PATH) and the root's npm install
// (playwright-core, esbuild); builds nothing but the page bundle.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, serve, bundlePage, openPage, rigMissing, PAGE_HTML } from '../packages/web/test/helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const FRAMES = arg('--frames', 300);
const RUNS = arg('--runs', 1);
const flagsAt = process.argv.indexOf('--flags');
const EXTRA = flagsAt >= 0 ? process.argv[flagsAt + 1].split(' ').filter(Boolean) : [];
const casesAt = process.argv.indexOf('--cases');
const CASES = casesAt >= 0 ? process.argv[casesAt + 1].split(',') : ['canvas', 'bare', 'miniav'];

const why = rigMissing('bench/web.mjs');
if (why) {
  console.error(`skipped: ${why}`);
  process.exit(0);
}

const bundle = await bundlePage(join(here, 'lib/web-cases.js'));
const server = await serve({ '/': ['text/html', PAGE_HTML.replace('miniav web test', 'miniav web bench')], '/bundle.js': ['text/javascript', bundle.replace('window.benchReady = true;', 'window.benchReady = true; window.miniavReady = true;')] });

async function cpu(cdp) {
  const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
  const by = {};
  for (const p of processInfo) by[p.type] = (by[p.type] ?? 0) + p.cpuTime;
  by.total = processInfo.reduce((s, p) => s + p.cpuTime, 0);
  return by;
}

const rows = [];
for (let run = 1; run <= RUNS; run++) {
  for (const name of CASES) {
    // A fresh browser per case: nothing of one case runs during another's window.
    const browser = await launch({ fps: 30, extra: EXTRA });
    try {
      const cdp = await browser.newBrowserCDPSession();
      const { page } = await openPage(browser, server.url);
      await page.evaluate((n) => window.benchCases[n](15), name); // warm-up: camera started once, code compiled
      const c0 = await cpu(cdp);
      const t0 = Date.now();
      const r = await page.evaluate(([n, frames]) => window.benchCases[n](frames), [name, FRAMES]);
      const wall = (Date.now() - t0) / 1000;
      const c1 = await cpu(cdp);
      const per = (k) => (((c1[k] ?? 0) - (c0[k] ?? 0)) * 1000) / r.copied;
      const row = { run, case: name, frames: r.copied, produced: r.produced, missed: r.missed, wall_s: +wall.toFixed(2), renderer_ms_per_frame: +per('renderer').toFixed(2), all_processes_ms_per_frame: +per('total').toFixed(2), ...(r.dropped !== undefined ? { dropped: r.dropped, copies: r.copies } : {}) };
      rows.push(row);
      console.error(JSON.stringify(row));
    } finally {
      await browser.close();
    }
  }
}
await server.close();

const bare = rows.filter((r) => r.case === 'bare');
const fmt = (v) => v.toFixed(2);
console.log('| run | case | frames copied | frames missed | renderer CPU ms/frame | all processes CPU ms/frame | vs bare (renderer) |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  const b = bare.find((x) => x.run === r.run);
  console.log(`| ${r.run} | ${r.case} | ${r.frames} | ${r.missed} | ${fmt(r.renderer_ms_per_frame)} | ${fmt(r.all_processes_ms_per_frame)} | ${b ? fmt(r.renderer_ms_per_frame / b.renderer_ms_per_frame) + 'x' : ''} |`);
}
mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(join(here, 'out/web-results.json'), JSON.stringify({ date: new Date().toISOString(), frames: FRAMES, rows }, null, 2));
