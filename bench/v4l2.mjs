#!/usr/bin/env node
// V4L2 camera benchmark: the vivid virtual camera (YUYV 640x360 @ 30 fps and 1280x720
// @ 12.5 fps, vivid's maximum for that size) into JavaScript, MiniAV next to
// `ffmpeg -f v4l2 ... -f rawvideo pipe:` read by Node, and next to
// `v4l2-ctl --stream-mmap` alone (the limit).
// Usage: node bench/v4l2.mjs [--seconds N]
// On the host it boots the project's vivid VM once (scripts/rigs/vivid-vm.sh, QEMU TCG),
// runs every case inside it one after the other (this file again, with --in-vm), then
// prints the table and the targets and writes bench/out/v4l2-results.json.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monoUs, round } from './lib/measure.mjs';
import { formatTable, machineInfo } from './lib/report.mjs';
import { FORMATS, WARMUP_S, rateText, MINIAV_DEVICE_ID, DEVICE, vividThreadCpuMs } from './lib/v4l2-common.mjs';
import { measureFfmpegV4l2, measureV4l2Ctl } from './lib/v4l2-pipes.mjs';
import { DriverTrace, miniavLatency, pipeLatency } from './lib/v4l2-trace.mjs';
import { parseArgs, cleanupOnExit, killAll } from './lib/cli.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = join(BENCH_DIR, '..');
const OUT_DIR = join(BENCH_DIR, 'out');
const VM_OUT_DIR = join(OUT_DIR, 'v4l2-vm'); // the VM's writable share (MINIAV_VIVID_OUT)
const VM_RESULT = 'v4l2-vm.json';
const RIG = join(REPO_DIR, 'scripts/rigs/vivid-vm.sh');
const MINIAV_CHILD = join(BENCH_DIR, 'lib/v4l2-miniav-child.mjs');
const FFMPEG = process.env.FFMPEG ?? '/usr/bin/ffmpeg';
const PAUSE_BETWEEN_CASES_MS = 500;

// The targets (from the issue).
const LATENCY_P99_MAX_MS = 2;

const children = new Set();

// 6 cases, each warm-up + N s + start-up: keep the whole run within ~3 minutes.
const USAGE = 'node bench/v4l2.mjs [--seconds N]   (default 5 s per case, after 1 s of warm-up)';
const OPTIONS = { seconds: { default: 5, min: 0, max: 20 }, 'in-vm': 'flag' };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cleanup() {
  killAll(children);
}

const fmtLabel = (f) => `${f.width}x${f.height} @${rateText(f.rate)}`;

// ---------------------------------------------------------------- inside the VM

/**
 * The MiniAV case in a fresh Node process (lib/v4l2-miniav-child.mjs). The child times
 * open() -> first frame itself; here: spawn -> its "F" line, i.e. with Node's start-up
 * and the addon's loading.
 */
function measureMiniAV(fmt, seconds) {
  return new Promise((resolve, reject) => {
    const tSpawn = monoUs();
    const arg = JSON.stringify({ width: fmt.width, height: fmt.height, rate: fmt.rate, seconds });
    const child = spawn(process.execPath, [MINIAV_CHILD, arg], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    let spawnToFirstUs = null;
    let vivid0 = null;
    let vivid1 = null;
    child.stdout.on('data', (d) => {
      const before = out;
      out += d;
      // Markers at the start of the output: F (first frame), W0 / W1 (the window).
      if (spawnToFirstUs === null && out.startsWith('F\n')) spawnToFirstUs = monoUs() - tSpawn;
      if (!before.includes('W0\n') && out.includes('W0\n')) vivid0 = vividThreadCpuMs();
      if (!before.includes('W1\n') && out.includes('W1\n')) vivid1 = vividThreadCpuMs();
    });
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + WARMUP_S + 40) * 1000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const last = out.trim().split('\n').pop();
      let r = null;
      try {
        r = JSON.parse(last);
      } catch {
        /* handled below */
      }
      if (!r || (code !== 0 && !r.error)) {
        reject(new Error(`MiniAV child failed (code ${code}, signal ${signal}): ${(err + out).trim().slice(-600)}`));
        return;
      }
      if (r.extra) {
        r.extra.spawnToFirstFrameMs = spawnToFirstUs === null ? null : round(spawnToFirstUs / 1000, 1);
        r.extra.vividKthreadMsPerFrame = r.frames && vivid0 !== null && vivid1 !== null ? round((vivid1 - vivid0) / r.frames, 3) : null;
        if (err.trim()) r.extra.stderr = err.trim().slice(-400);
      }
      resolve(r);
    });
  });
}

/**
 * Latency from the driver's hand-over of each window frame (kernel trace) to the consumer:
 * MiniAV's handler, the whole frame in the ffmpeg reader, v4l2-ctl's '<' read here.
 * Fills the row's latency columns and moves the per-frame data out of it.
 */
function addDriverLatency(row, trace) {
  const frames = trace.frames ? trace.frames() : null;
  let lat = null;
  if (frames && row.window) lat = miniavLatency(frames, row.window);
  else if (frames && row.arrivals) lat = pipeLatency(frames, row.arrivals.us, row.arrivals.from, row.arrivals.count);
  delete row.window;
  delete row.arrivals;
  if (!lat) return;
  if (frames.lost) lat.traceLost = frames.lost;
  row.extra = { ...row.extra, driverLatency: lat };
  if (lat.matched > 0 && lat.negative === 0) {
    row.latencyP50Ms = lat.totalMs.p50;
    row.latencyP99Ms = lat.totalMs.p99;
    row.latencyMaxMs = lat.totalMs.max;
  }
}

/** A fresh MiniAV process that opens with backend: 'v4l2': open() -> first frame only. */
function miniavFirstFrameV4l2Backend(fmt) {
  const arg = JSON.stringify({ width: fmt.width, height: fmt.height, rate: fmt.rate, firstOnly: true, backend: 'v4l2' });
  try {
    const out = execFileSync(process.execPath, [MINIAV_CHILD, arg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });
    return JSON.parse(out.trim().split('\n').pop());
  } catch (e) {
    return { error: String(e.stderr ?? e.message).trim().slice(-300) };
  }
}

/** Loads binaries and libraries once, so no case pays for the first read over 9p. */
function warmCaches() {
  const t0 = monoUs();
  const notes = {};
  const quiet = { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60000 };
  try {
    notes.ffmpeg = execFileSync(FFMPEG, ['-hide_banner', '-version'], quiet).split('\n')[0];
  } catch (e) {
    notes.ffmpeg = `unavailable: ${e.message.split('\n')[0]}`;
  }
  try {
    notes.v4l2ctl = execFileSync('v4l2-ctl', ['--version'], quiet).trim();
  } catch (e) {
    notes.v4l2ctl = `unavailable: ${e.message.split('\n')[0]}`;
  }
  try {
    const code = "const m = await import('./packages/node/dist/index.js'); console.log(JSON.stringify({ version: m.getVersion(), backends: m.getBackends('camera') }))";
    notes.miniav = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { ...quiet, cwd: REPO_DIR }).trim());
  } catch (e) {
    notes.miniav = { error: String(e.stderr ?? e.message).trim().slice(-300) };
  }
  notes.ms = round((monoUs() - t0) / 1000, 0);
  return notes;
}

function guestInfo() {
  const m = machineInfo();
  const read = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  return {
    ...m,
    memoryMiB: Math.round((Number(/MemTotal:\s+(\d+)/.exec(read('/proc/meminfo'))?.[1] ?? 0) / 1024) * 10) / 10,
    vividParams: process.env.MINIAV_VIVID_PARAMS ?? '(rig default)',
  };
}

async function runInVm(seconds) {
  const outDir = process.env.MINIAV_VIVID_OUT;
  if (!outDir) throw new Error('--in-vm: MINIAV_VIVID_OUT is not set (run `node bench/v4l2.mjs` on the host)');
  const warm = warmCaches();
  const miniavOk = Array.isArray(warm.miniav?.backends) && warm.miniav.backends.includes('v4l2');
  const miniavSkip = miniavOk
    ? null
    : warm.miniav?.error
      ? `the package does not load: ${warm.miniav.error}`
      : `the built addon has no v4l2 camera backend (camera backends: ${warm.miniav?.backends?.join(', ')}): rebuild it (npm run build)`;
  const trace = DriverTrace.open();
  if (trace.error) console.error(trace.error);
  console.error(`v4l2 bench (in the VM): ${seconds} s per case after ${WARMUP_S} s of warm-up; caches warmed in ${warm.ms} ms`);
  const rows = [];
  for (const fmt of FORMATS) {
    const cases = [
      {
        id: `miniav-${fmt.id}`,
        kind: 'miniav',
        name: `MiniAV -> JS, ${fmtLabel(fmt)}`,
        run: async () => {
          if (miniavSkip) return { skipped: miniavSkip };
          const row = await measureMiniAV(fmt, seconds);
          if (row.extra) row.extra.freshProcessV4l2Backend = miniavFirstFrameV4l2Backend(fmt);
          return row;
        },
      },
      {
        id: `ffmpeg-${fmt.id}`,
        kind: 'ffmpeg',
        name: `ffmpeg -f v4l2 -> pipe -> Node, ${fmtLabel(fmt)}`,
        run: () => (existsSync(FFMPEG) ? measureFfmpegV4l2({ ffmpeg: FFMPEG, fmt, seconds, children }) : { skipped: `ffmpeg not found at ${FFMPEG}` }),
      },
      { id: `v4l2ctl-${fmt.id}`, kind: 'v4l2ctl', name: `v4l2-ctl --stream-mmap alone, ${fmtLabel(fmt)}`, run: () => measureV4l2Ctl({ fmt, seconds, children }) },
    ];
    for (const c of cases) {
      console.error(`running: ${c.name}`);
      const base = { id: c.id, name: c.name, kind: c.kind, format: fmt.id, width: fmt.width, height: fmt.height, rate: fmt.rate };
      let row;
      try {
        trace.clear?.();
        row = { ...base, ...(await c.run()) };
        if (!row.skipped && !row.error) addDriverLatency(row, trace);
      } catch (e) {
        row = { ...base, error: e.message };
      }
      rows.push(row);
      await sleep(PAUSE_BETWEEN_CASES_MS);
    }
  }
  trace.close?.();
  const result = { date: new Date().toISOString(), guest: guestInfo(), warm, traceError: trace.error ?? null, cases: rows };
  writeFileSync(join(outDir, VM_RESULT), JSON.stringify(result, null, 2) + '\n');
}

// ---------------------------------------------------------------- on the host

const COLUMNS = [
  ['case', (r) => r.name],
  ['frames', (r) => r.frames],
  ['fps', (r) => r.fps],
  ['CPU ms/frame', (r) => r.cpuMsPerFrame],
  ['split ms/frame', (r) => (r.parts ? Object.entries(r.parts).map(([k, v]) => `${k} ${v}`).join(' + ') : null)],
  ['CPU %', (r) => r.cpuPercent],
  ['gap p50 ms', (r) => r.gapP50Ms],
  ['gap p99 ms', (r) => r.gapP99Ms],
  ['latency p50 ms', (r) => r.latencyP50Ms],
  ['latency p99 ms', (r) => r.latencyP99Ms],
  ['first frame ms', (r) => r.firstFrameMs],
  ['dropped', (r) => r.dropped],
];

const ok = (r) => r && !r.skipped && !r.error;

function evaluateTargets(byId) {
  const targets = [];
  for (const fmt of FORMATS) {
    const m = byId[`miniav-${fmt.id}`];
    const c = byId[`v4l2ctl-${fmt.id}`];
    const label = fmtLabel(fmt);
    {
      const t = { id: `cpu-${fmt.id}`, what: `${label}: MiniAV's total CPU per frame (capture thread + JS) below v4l2-ctl's alone`, met: null };
      if (ok(m) && ok(c) && m.cpuMsPerFrame !== null && c.cpuMsPerFrame !== null) {
        t.met = m.cpuMsPerFrame < c.cpuMsPerFrame;
        t.detail = `MiniAV ${m.cpuMsPerFrame} ms vs v4l2-ctl ${c.cpuMsPerFrame} ms per frame (ratio ${round(m.cpuMsPerFrame / c.cpuMsPerFrame, 2)})`;
        t.values = { miniav: m.cpuMsPerFrame, v4l2ctl: c.cpuMsPerFrame };
      } else t.detail = 'not measured (a row failed or was skipped)';
      targets.push(t);
    }
    {
      const t = { id: `first-${fmt.id}`, what: `${label}: MiniAV's first frame (from open()) no later than v4l2-ctl's (from spawn)`, met: null };
      if (ok(m) && ok(c) && m.firstFrameMs !== null && c.firstFrameMs !== null) {
        t.met = m.firstFrameMs <= c.firstFrameMs;
        const x = m.extra ?? {};
        t.detail =
          `MiniAV ${m.firstFrameMs} ms (open() ${x.openMs} ms) vs v4l2-ctl ${c.firstFrameMs} ms; ` +
          `later opens in the same process: ${x.secondOpen?.firstFrameMs} ms (open() ${x.secondOpen?.openMs} ms), ` +
          `with backend: 'v4l2' ${x.v4l2BackendOpen?.firstFrameMs} ms (open() ${x.v4l2BackendOpen?.openMs} ms); ` +
          `a fresh process with backend: 'v4l2': ${x.freshProcessV4l2Backend?.firstFrameMs} ms (open() ${x.freshProcessV4l2Backend?.openMs} ms); ` +
          `MiniAV from spawning its Node process: ${x.spawnToFirstFrameMs} ms`;
        t.values = {
          miniav: m.firstFrameMs,
          v4l2ctl: c.firstFrameMs,
          miniavSecondOpen: x.secondOpen?.firstFrameMs ?? null,
          miniavV4l2Backend: x.v4l2BackendOpen?.firstFrameMs ?? null,
          miniavFreshV4l2Backend: x.freshProcessV4l2Backend?.firstFrameMs ?? null,
          miniavFromSpawn: x.spawnToFirstFrameMs ?? null,
        };
      } else t.detail = 'not measured (a row failed or was skipped)';
      targets.push(t);
    }
    {
      const t = {
        id: `latency-${fmt.id}`,
        what: `${label}: driver -> JS callback p99 <= ${LATENCY_P99_MAX_MS} ms (driver = its hand-over of the buffer, from the kernel trace)`,
        met: null,
      };
      const tj = ok(m) ? m.extra?.timestampToJsMs : null;
      const tjText = tj ? `; now() - frame.timestampUs: p50 ${tj.p50} ms, p99 ${tj.p99} ms` : '';
      if (ok(m) && m.latencyP99Ms !== null) {
        const d = m.extra.driverLatency;
        t.met = m.latencyP99Ms <= LATENCY_P99_MAX_MS;
        t.detail =
          `p50 ${m.latencyP50Ms} ms, p99 ${m.latencyP99Ms} ms, max ${m.latencyMaxMs} ms over ${d.matched} frames ` +
          `(hand-over -> dequeue p99 ${d.doneToDequeueMs.p99} ms, dequeue -> JS p99 ${d.dequeueToConsumerMs.p99} ms)${tjText}`;
        t.values = { p50: m.latencyP50Ms, p99: m.latencyP99Ms, max: m.latencyMaxMs, timestampToJs: tj ?? null };
      } else t.detail = `not measured (the MiniAV row failed, or no kernel trace)${tjText}`;
      targets.push(t);
    }
  }
  return targets;
}

async function runOnHost(seconds) {
  if (!existsSync(RIG)) throw new Error(`${RIG} is missing`);
  try {
    execFileSync('bash', [RIG, '--check'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    throw new Error(`the vivid VM rig cannot run here:\n${String(e.stdout ?? '').trim()}`);
  }
  mkdirSync(VM_OUT_DIR, { recursive: true });
  rmSync(join(VM_OUT_DIR, VM_RESULT), { force: true });
  const host = machineInfo();
  console.error(`MiniAV V4L2 bench: booting the vivid VM (${RIG}), ${seconds} s per case; progress follows`);
  const t0 = monoUs();
  // Generous: 6 cases of warm-up + seconds + start-up (ffmpeg takes seconds to start under TCG).
  const vmTimeoutS = Math.ceil(120 + 6 * (seconds + WARMUP_S + 25));
  const env = { ...process.env, MINIAV_VIVID_OUT: VM_OUT_DIR, MINIAV_VIVID_TIMEOUT: String(vmTimeoutS) };
  const code = await new Promise((resolve, reject) => {
    const vm = spawn('bash', [RIG, process.execPath, join(BENCH_DIR, 'v4l2.mjs'), '--in-vm', '--seconds', String(seconds)], {
      cwd: REPO_DIR,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.add(vm);
    vm.on('error', reject);
    vm.on('close', (c, sig) => {
      children.delete(vm);
      resolve(c ?? (sig ? 128 : 1));
    });
  });
  const wallS = round((monoUs() - t0) / 1e6, 1);
  const resultFile = join(VM_OUT_DIR, VM_RESULT);
  if (!existsSync(resultFile)) throw new Error(`the VM run ended (exit ${code}) without writing ${resultFile}`);
  const vmResult = JSON.parse(readFileSync(resultFile, 'utf8'));
  if (code !== 0) console.error(`warning: the VM run exited with ${code}`);

  const rows = vmResult.cases;
  const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
  const targets = evaluateTargets(byId);
  const results = {
    date: vmResult.date,
    host,
    guest: vmResult.guest,
    settings: {
      seconds,
      warmupS: WARMUP_S,
      device: DEVICE,
      miniavDeviceId: MINIAV_DEVICE_ID,
      formats: FORMATS,
      pixelFormat: 'yuyv (YUYV 4:2:2)',
      vm: 'scripts/rigs/vivid-vm.sh (QEMU TCG, vivid)',
      totalWallS: wallS,
      warm: vmResult.warm,
    },
    cases: rows,
    targets,
  };
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'v4l2-results.json'), JSON.stringify(results, null, 2) + '\n');

  console.log(formatTable(rows, COLUMNS));
  console.log(
    `\nSteady window: ${seconds} s from ${WARMUP_S} s after the first frame. CPU ms/frame: MiniAV = its Node process, all threads; ` +
      'ffmpeg = ffmpeg + the Node reader; v4l2-ctl = v4l2-ctl only. vivid makes its frames in a kernel thread that no row counts.',
  );
  console.log(
    'first frame: MiniAV from calling camera.open(); ffmpeg and v4l2-ctl from spawn (process start-up included). ' +
      'latency: from the driver handing the buffer over (kernel trace: vb2_buf_done) to the MiniAV handler / the whole frame in the ffmpeg reader / ' +
      "v4l2-ctl's '<' read by the bench (so that row adds a pipe hop). vivid's own buffer timestamps lie ahead of the hand-over, see README.",
  );
  console.log('\nTargets:');
  for (const t of targets) console.log(`  ${t.met === null ? 'NOT MEASURED' : t.met ? 'MET    ' : 'NOT MET'}  ${t.what}\n           ${t.detail}`);
  console.error(`\nwhole run ${wallS} s (VM boot included); wrote ${join(OUT_DIR, 'v4l2-results.json')}`);
}

cleanupOnExit(cleanup);

const { seconds, inVm } = parseArgs(process.argv.slice(2), USAGE, OPTIONS);
(inVm ? runInVm(seconds) : runOnHost(seconds)).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
