// Shared by the @miniav/web tests and benchmark: Chromium (Debian's, through playwright-core
// from the project's devDependencies), the test page (bundled by esbuild), known media files.
import { existsSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '../../..');
const require = createRequire(import.meta.url);
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Whether the rig can run here; null when it can, else why not. Fails under MINIAV_REQUIRE_RIGS=1. */
export function rigMissing(what = 'Chromium rig') {
  let why = null;
  if (!existsSync(chromiumPath)) why = `${chromiumPath} is missing (apt-get install chromium)`;
  else {
    try {
      require.resolve('playwright-core');
      require.resolve('esbuild');
    } catch {
      why = 'playwright-core/esbuild are missing (npm install at the repository root)';
    }
  }
  if (why && process.env.MINIAV_REQUIRE_RIGS) throw new Error(`${what} required: ${why}`);
  return why;
}

/** The page script: packages/web/test/page-entry.js bundled for browsers (no Node built-ins). */
export async function bundlePage(entry = join(here, 'page-entry.js')) {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', write: false, logLevel: 'silent' });
  return r.outputFiles[0].text;
}

/** Serves `files` ({ '/path': [contentType, body] }) on 127.0.0.1 (a secure context). */
export async function serve(files) {
  const server = createServer((req, res) => {
    const f = files[req.url.split('?')[0]];
    if (!f) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': f[0], 'cache-control': 'no-store' });
    res.end(f[1]);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) };
}

export const PAGE_HTML = '<!doctype html><meta charset="utf-8"><title>miniav web test</title><body><script type="module" src="/bundle.js"></script></body>';

/**
 * A Y4M (I420, BT.601 limited range) of known content, `frames` frames of w×h: the left half
 * grey (Y=128, U=V=128), the right half red (Y=81 U=90 V=240), and a strip of the top 32 rows
 * with Y = 16 + 20 × frame number (the frame's number).
 */
export function writeY4M(path, w = 640, h = 480, frames = 10, fps = 30) {
  const header = Buffer.from(`YUV4MPEG2 W${w} H${h} F${fps}:1 Ip A1:1 C420jpeg\n`);
  const ySize = w * h, cSize = (w / 2) * (h / 2);
  const parts = [header];
  for (let n = 0; n < frames; n++) {
    const f = Buffer.alloc(ySize + 2 * cSize);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) f[y * w + x] = y < 32 ? 16 + 20 * n : x < w / 2 ? 128 : 81;
    for (let y = 0; y < h / 2; y++)
      for (let x = 0; x < w / 2; x++) {
        const grey = y < 16 || x < w / 4;
        f[ySize + y * (w / 2) + x] = grey ? 128 : 90;
        f[ySize + cSize + y * (w / 2) + x] = grey ? 128 : 240;
      }
    parts.push(Buffer.from('FRAME\n'), f);
  }
  writeFileSync(path, Buffer.concat(parts));
}

/** A WAV (16-bit PCM mono) of a sine at `freq` Hz, amplitude 0.5, `seconds` long. */
export function writeWav(path, freq, rate = 48000, seconds = 2) {
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n * 2, 4); b.write('WAVE', 8); b.write('fmt ', 12);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(16383 * Math.sin((2 * Math.PI * freq * i) / rate)), 44 + i * 2);
  writeFileSync(path, b);
}

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'miniav-web-'));
}

const COMMON_FLAGS = ['--headless=new', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'];

/**
 * Launches Chromium. `fake`: fake camera/microphone from files (`video`, `audio`), prompts
 * accepted. `screen`: the real X screen of $DISPLAY for getDisplayMedia (picked by title).
 */
export async function launch({ video, audio, screen = false, display, extra = [], fps = 30 } = {}) {
  const { chromium } = await import('playwright-core');
  const args = [...COMMON_FLAGS, ...extra];
  if (screen) args.push('--auto-select-desktop-capture-source=Entire screen');
  else {
    args.push(`--use-fake-device-for-media-stream=fps=${fps}`, '--use-fake-ui-for-media-stream');
    if (video) args.push(`--use-file-for-fake-video-capture=${video}`);
    if (audio) args.push(`--use-file-for-fake-audio-capture=${audio}`);
  }
  const env = { ...process.env };
  if (display) Object.assign(env, { DISPLAY: display, DBUS_SESSION_BUS_ADDRESS: 'disabled:' });
  else delete env.DISPLAY;
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: false, args, env, ignoreDefaultArgs: ['--mute-audio'] });
  return browser;
}

/** A page at `url` with window.miniav loaded. */
export async function openPage(browser, url) {
  const context = await browser.newContext();
  await context.grantPermissions(['camera', 'microphone'], { origin: new URL(url).origin }).catch(() => undefined);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.miniavReady === true, null, { timeout: 15000 });
  return { page, context, errors };
}

/** Starts scripts/rigs/chromium.sh (Xvfb with the atoms Chromium needs); returns env and a stop(). */
export function startScreenRig() {
  const env = { ...process.env, RIG_DIR: join(tmpdir(), `miniav-rig-chromium-${process.pid}`) };
  const out = execFileSync('bash', [join(repoRoot, 'scripts/rigs/chromium.sh'), 'start'], { env, encoding: 'utf8' });
  const vars = {};
  for (const m of out.matchAll(/([A-Z0-9_]+)=("?)([^"\s]*)\2/g)) vars[m[1]] = m[3];
  return {
    display: vars.DISPLAY,
    root: vars.MINIAV_RIG_X11_ROOT,
    stop: () => execFileSync('bash', [join(repoRoot, 'scripts/rigs/chromium.sh'), 'stop'], { env }),
  };
}

/** Decodes an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium's screenshots are) into RGBA. */
export async function decodePng(buf) {
  const { inflateSync } = await import('node:zlib');
  let pos = 8;
  let width = 0, height = 0, colorType = 0;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs');
      colorType = data[9];
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const bpp = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  if (!bpp) throw new Error(`PNG colour type ${colorType} not handled`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? line[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      let p = 0;
      if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else if (filter === 4) {
        const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      line[i] = (line[i] + p) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      out[(y * width + x) * 4] = line[x * bpp];
      out[(y * width + x) * 4 + 1] = line[x * bpp + 1];
      out[(y * width + x) * 4 + 2] = line[x * bpp + 2];
      out[(y * width + x) * 4 + 3] = bpp === 4 ? line[x * bpp + 3] : 255;
    }
    prev = line;
  }
  return { width, height, data: out };
}
