#!/usr/bin/env node
// X11 screen capture benchmark: the 1920x1080 root of an X server into JavaScript
// at 30 fps, 60 fps and as fast as possible, MiniAV next to ffmpeg x11grab piped
// into Node, and next to a bare C loop of MIT-SHM reads (the limit).
// Usage: node bench/x11.mjs [--seconds N]
// Uses DISPLAY when set; otherwise starts a private Xvfb (scripts/rigs/x11.sh,
// RIG_DIR=/tmp/miniav-bench-x11) and stops it at the end. The screen content is
// whatever the X server shows; on the rig it is a still, solid root.
// Prints a table and the targets, and writes bench/out/x11-results.json.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WIDTH, HEIGHT, procCpuMs, round } from './lib/measure.mjs';
import { ensureXServer } from './lib/x11-rig.mjs';
import { measureMiniAVScreen } from './lib/x11-miniav.mjs';
import { measureFfmpegX11 } from './lib/x11-ffmpeg.mjs';
import { formatTable, machineInfo } from './lib/report.mjs';
import { parseArgs, cleanupOnExit, killAll } from './lib/cli.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = join(BENCH_DIR, '..');
const OUT_DIR = join(BENCH_DIR, 'out');
const C_BUILD_DIR = join(OUT_DIR, 'build-c');
const C_RAW = join(C_BUILD_DIR, 'bench_x11_raw');
const C_RAW_SOURCE = join(REPO_DIR, 'miniav_c/tests/bench_x11_raw.c');
const FFMPEG = process.env.FFMPEG ?? '/usr/bin/ffmpeg';
const PAUSE_BETWEEN_CASES_MS = 500;
const CHILD_SLACK_MS = 20000;

// The targets.
const TARGET_RATE = 60;
const SUSTAINED_FRACTION = 0.95; // "60 fps sustained": at least 57 frames/s delivered
const CPU_RATIO_MAX = 0.25; // MiniAV CPU <= 1/4 of the ffmpeg pipeline's at 60 fps
const MAX_FPS_FRACTION = 0.8; // MiniAV max fps >= 80 % of the raw C loop
const FIRST_FRAME_MAX_MS = 50; // MiniAV first frame <= 50 ms after start()

const children = new Set();
let rig = null;

// 10 cases: keep the whole run under 3 minutes.
const USAGE = 'node bench/x11.mjs [--seconds N] [--pairs N]   (default 5 s per case, 3 pairs for target b)';
const OPTIONS = { seconds: { default: 5, min: 0, max: 20 }, pairs: { default: 3, min: 0, max: 10 } };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cleanup() {
  killAll(children);
  rig?.stop();
}

function runChild(command, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} failed (code ${code}, signal ${signal}): ${stderr.trim().slice(-500)}`));
    });
  });
}

/** Builds bench_x11_raw into bench/out/build-c when missing or older than its source. */
function ensureRawBench() {
  if (existsSync(C_RAW) && statSync(C_RAW).mtimeMs >= statSync(C_RAW_SOURCE).mtimeMs) return null;
  const started = Date.now();
  const opts = { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 };
  try {
    execFileSync('cmake', ['-S', 'miniav_c', '-B', C_BUILD_DIR, '-DCMAKE_BUILD_TYPE=Release'], opts);
    execFileSync('cmake', ['--build', C_BUILD_DIR, '-j2', '--target', 'bench_x11_raw'], opts);
  } catch (e) {
    return `could not build ${C_RAW} (needs cmake and the xcb headers): ${String(e.stderr ?? e.message).trim().slice(-400)}`;
  }
  console.error(`built ${C_RAW} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return null;
}

async function rawCase(seconds, xPid, segments, method = 'getimage') {
  const buildError = ensureRawBench();
  if (buildError) return { skipped: buildError };
  const x0 = xPid ? procCpuMs(xPid) : null;
  const t0 = performance.now();
  const args = [String(seconds), String(WIDTH), String(HEIGHT), String(segments), method];
  const out = await runChild(C_RAW, args, seconds * 1000 + CHILD_SLACK_MS);
  const wallMs = performance.now() - t0; // includes the child's start-up and connection: a little longer than its loop
  const xMs = xPid ? procCpuMs(xPid) - x0 : null;
  const r = JSON.parse(out.trim().split('\n').pop());
  const clientMs = r.cpuMsPerFrame * r.frames;
  const loopMs = (r.frames / r.fps) * 1000;
  // The X server's CPU over the child's whole life, spread over its loop time.
  const xPct = xMs === null ? null : round((xMs * 100) / wallMs, 1);
  const clientPct = round((clientMs * 100) / loopMs, 1);
  return {
    fps: r.fps,
    cpuPercent: round(clientPct + (xPct ?? 0), 1),
    cpuMsPerFrame: round(r.cpuMsPerFrame + (xMs ?? 0) / r.frames, 3),
    clientCpuPercent: clientPct,
    xCpuPercent: xPct,
    gapP50Ms: null,
    gapP99Ms: null,
    gapMaxMs: null,
    firstFrameMs: null,
    dropped: null,
    frames: r.frames,
    wallS: round(loopMs / 1000, 2),
    extra: {
      clientCpuMsPerFrame: r.cpuMsPerFrame,
      xCpuMsPerFrame: xMs === null ? null : round(xMs / r.frames, 3),
      segments,
      method,
    },
  };
}

/** Runs fn with one environment variable set (the addon reads it when a stream is opened). */
async function withEnv(name, value, fn) {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

function rateLabel(rate) {
  return rate === 'max' ? 'max' : `${rate} fps`;
}

// The rig's root colour, which every MiniAV frame is checked against (known once the rig runs).
const rigRootPixel = () => (process.env.MINIAV_RIG_X11_ROOT ? parseInt(process.env.MINIAV_RIG_X11_ROOT, 16) : undefined);

function buildCases(seconds, display, xPid) {
  const expectedPixel = rigRootPixel();
  const cases = [];
  for (const rate of [30, 60, 'max']) {
    if (rate === 'max') {
      // The limit of target (b): one segment, as bare as X11 capture gets.
      cases.push({ id: 'raw-c-max', rate, kind: 'raw', name: 'raw C loop (bench_x11_raw), max', run: () => rawCase(seconds, xPid, 1) });
      // For reading (b), not part of it: the same loop writing into 4 segments in turn,
      // like a pool of 4 buffers (MiniAV's default pool), so the destination leaves the cache.
      cases.push({
        id: 'raw-c-max-4seg',
        rate,
        kind: 'raw',
        name: 'raw C loop, 4 segments in turn, max ²',
        run: () => rawCase(seconds, xPid, 4),
      });
      // For reading (b), not part of it: the same bare loop copying the way MiniAV reads
      // displays (RENDER into a shared ARGB pixmap, alpha set by the server).
      cases.push({
        id: 'raw-c-max-render',
        rate,
        kind: 'raw',
        name: 'raw C loop, RENDER into 1 pixmap, max ²',
        run: () => rawCase(seconds, xPid, 1, 'render'),
      });
    }
    cases.push({
      id: `miniav-${rate}`,
      rate,
      kind: 'miniav',
      name: `MiniAV -> JS, ${rateLabel(rate)}`,
      run: () => measureMiniAVScreen({ rate, seconds, xPid, expectedPixel }),
    });
    if (rate === 'max')
      // For reading (b), not part of it: the path windows (and servers without RENDER)
      // take, ShmGetImage into the segment and then MiniAV's own alpha pass.
      cases.push({
        id: 'miniav-max-getimage',
        rate,
        kind: 'miniav-getimage',
        name: 'MiniAV -> JS, max, ShmGetImage + alpha pass ²',
        run: () => withEnv('MINIAV_X11_GETIMAGE', '1', () => measureMiniAVScreen({ rate, seconds, xPid, expectedPixel })),
      });
    cases.push({
      id: `ffmpeg-${rate}`,
      rate,
      kind: 'ffmpeg',
      name: `ffmpeg x11grab -> pipe -> JS, ${rateLabel(rate)}`,
      run: () =>
        existsSync(FFMPEG)
          ? measureFfmpegX11({ ffmpeg: FFMPEG, display, rate, seconds, xPid, children })
          : { skipped: `ffmpeg not found at ${FFMPEG} (set FFMPEG=/path/to/ffmpeg)` },
    });
  }
  return cases;
}

const COLUMNS = [
  ['case', (r) => r.name],
  ['fps', (r) => r.fps],
  ['CPU % (all)', (r) => r.cpuPercent],
  ['CPU ms/frame', (r) => r.cpuMsPerFrame],
  ['client CPU %', (r) => r.clientCpuPercent],
  ['X server CPU %', (r) => r.xCpuPercent],
  ['gap p50 ms', (r) => r.gapP50Ms],
  ['gap p99 ms', (r) => r.gapP99Ms],
  ['first frame ms', (r) => r.firstFrameMs],
  ['dropped', (r) => r.dropped],
];


const ok = (r) => r && !r.skipped && !r.error;

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/**
 * Target (b) compares two rates that each move by up to 1.5x within minutes on this
 * shared VM (the raw loop: 1440-2577 fps across runs). So it is judged on pairs run back
 * to back, the raw loop then MiniAV: the first pair is the two rows of the table, the
 * others are run after the table; the median of the pairs' ratios decides.
 */
async function measurePairs(pairsWanted, seconds, xPid, byId) {
  const raw = byId['raw-c-max'];
  const m = byId['miniav-max'];
  if (!ok(raw) || !ok(m)) return [];
  const pairs = [{ rawFps: raw.fps, miniavFps: m.fps }];
  while (pairs.length < pairsWanted) {
    console.error(`running: target (b) pair ${pairs.length + 1} of ${pairsWanted}: raw C loop, then MiniAV, max`);
    const r = await rawCase(seconds, xPid, 1);
    await sleep(PAUSE_BETWEEN_CASES_MS);
    const mm = await measureMiniAVScreen({ rate: 'max', seconds, xPid, expectedPixel: rigRootPixel() });
    await sleep(PAUSE_BETWEEN_CASES_MS);
    if (!ok(r) || !ok(mm)) break;
    pairs.push({ rawFps: r.fps, miniavFps: mm.fps });
  }
  return pairs.map((p) => ({ ...p, ratio: round(p.miniavFps / p.rawFps, 3) }));
}

function evaluateTargets(byId, pairs) {
  const targets = [];
  {
    const m = byId['miniav-60'];
    const f = byId['ffmpeg-60'];
    const t = {
      id: 'a',
      what: `${TARGET_RATE} fps sustained (>= ${SUSTAINED_FRACTION * TARGET_RATE} fps) with MiniAV CPU <= 1/4 of the ffmpeg pipeline's CPU at ${TARGET_RATE} fps (all processes, X server included on both sides)`,
      met: null,
    };
    if (ok(m) && ok(f)) {
      const sustained = m.fps >= SUSTAINED_FRACTION * TARGET_RATE;
      const ratio = m.cpuPercent / f.cpuPercent;
      const clientRatio = m.clientCpuPercent / f.clientCpuPercent;
      t.met = sustained && ratio <= CPU_RATIO_MAX;
      t.detail =
        `MiniAV ${m.fps} fps at ${m.cpuPercent} % CPU vs ffmpeg pipeline ${f.fps} fps at ${f.cpuPercent} %: ` +
        `ratio ${round(ratio, 3)} (limit ${CPU_RATIO_MAX}); without the X server: ${m.clientCpuPercent} % vs ${f.clientCpuPercent} %, ratio ${round(clientRatio, 3)}`;
      t.values = { sustained, miniavFps: m.fps, ratio: round(ratio, 3), clientRatio: round(clientRatio, 3) };
    } else t.detail = 'not measured (a row failed or was skipped)';
    targets.push(t);
  }
  {
    const t = {
      id: 'b',
      what: `MiniAV max fps >= ${MAX_FPS_FRACTION * 100} % of the raw C loop (median of ${pairs.length || '?'} back-to-back pairs)`,
      met: null,
    };
    if (pairs.length) {
      const frac = median(pairs.map((p) => p.ratio));
      t.met = frac >= MAX_FPS_FRACTION;
      t.detail =
        `median ${round(frac * 100, 1)} %; pairs (MiniAV / raw C fps): ` +
        pairs.map((p) => `${p.miniavFps} / ${p.rawFps} = ${round(p.ratio * 100, 1)} %`).join(', ');
      t.values = { fraction: round(frac, 3), pairs };
    } else t.detail = 'not measured (a row failed or was skipped)';
    targets.push(t);
  }
  {
    const rows = ['miniav-30', 'miniav-60', 'miniav-max'].map((id) => byId[id]).filter(ok);
    const t = { id: 'c', what: `MiniAV first frame <= ${FIRST_FRAME_MAX_MS} ms after start() (every rate)`, met: null };
    if (rows.length === 3 && rows.every((r) => r.firstFrameMs !== null)) {
      const worst = Math.max(...rows.map((r) => r.firstFrameMs));
      t.met = worst <= FIRST_FRAME_MAX_MS;
      t.detail = `first frame ${rows.map((r) => `${r.firstFrameMs} ms (${rateLabel(r.rate)})`).join(', ')}; worst ${worst} ms`;
      t.values = { worstMs: worst };
    } else t.detail = 'not measured (a MiniAV row failed or had no frame)';
    targets.push(t);
  }
  return targets;
}

async function main() {
  const { seconds, pairs: pairsWanted } = parseArgs(process.argv.slice(2), USAGE, OPTIONS);
  mkdirSync(OUT_DIR, { recursive: true });
  const machine = machineInfo();
  rig = ensureXServer(REPO_DIR);
  const display = rig.display;
  console.error(
    `MiniAV X11 bench: ${WIDTH}x${HEIGHT} root of DISPLAY=${display}` +
      `${rig.startedRig ? ' (Xvfb rig started for this run)' : ''}, ${seconds} s per case, ${machine.cpus} CPUs, Node ${machine.node}`,
  );
  if (!rig.xPid) console.error('warning: X server pid not found: its CPU is not counted');

  const rows = [];
  for (const c of buildCases(seconds, display, rig.xPid)) {
    console.error(`running: ${c.name}`);
    let row;
    try {
      row = { id: c.id, name: c.name, rate: c.rate, kind: c.kind, ...(await c.run()) };
    } catch (e) {
      row = { id: c.id, name: c.name, rate: c.rate, kind: c.kind, error: e.message };
    }
    rows.push(row);
    await sleep(PAUSE_BETWEEN_CASES_MS);
  }

  const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
  const pairs = await measurePairs(Math.ceil(pairsWanted), seconds, rig.xPid, byId);
  const targets = evaluateTargets(byId, pairs);
  const results = {
    date: new Date().toISOString(),
    machine,
    settings: {
      width: WIDTH,
      height: HEIGHT,
      pixelFormat: 'bgra',
      seconds,
      pairs: pairsWanted,
      display,
      startedRig: rig.startedRig,
      xServerPid: rig.xPid,
      content: rig.startedRig ? 'Xvfb root, solid colour, nothing moving (static)' : 'whatever the X server at DISPLAY showed',
    },
    cases: rows,
    targets,
  };
  writeFileSync(join(OUT_DIR, 'x11-results.json'), JSON.stringify(results, null, 2) + '\n');

  console.log(formatTable(rows, COLUMNS));
  console.log('\nCPU % (all) = client (MiniAV: the bench process; ffmpeg: ffmpeg + the Node reader; C: the loop) + X server; 100 % = one core.');
  console.log('ffmpeg first frame: from spawn (includes process start-up). ² informational, not used by the targets.');
  console.log('\nTargets:');
  for (const t of targets) console.log(`  (${t.id}) ${t.met === null ? 'NOT MEASURED' : t.met ? 'MET    ' : 'NOT MET'}  ${t.what}\n        ${t.detail}`);
  console.error(`\nwrote ${join(OUT_DIR, 'x11-results.json')}`);
}

cleanupOnExit(cleanup);

main()
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  })
  .finally(() => rig?.stop());
