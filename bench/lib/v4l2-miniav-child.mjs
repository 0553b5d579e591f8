// The MiniAV case of bench/v4l2.mjs, in a fresh Node process inside the vivid VM:
// camera.open('v4l2:platform:vivid-000', YUYV WxH at a rate) into a 'frame' handler
// that touches (one byte per row) and releases each frame.
//   node bench/lib/v4l2-miniav-child.mjs '{"width":640,"height":360,"rate":{"num":30,"den":1},"seconds":5}'
//   node bench/lib/v4l2-miniav-child.mjs '{"width":640,"height":360,"rate":{"num":30,"den":1},"firstOnly":true,"backend":"v4l2"}'
// Writes "F\n" on stdout the moment the first frame reaches the handler (the parent
// times spawn -> first frame with it), "W0\n" / "W1\n" at the start / end of the steady
// window (the parent samples vivid's kernel thread then), then one JSON line: the result,
// with each window frame's sequence, driver-or-dequeue timestamp and arrival in the
// handler (the parent matches them against the kernel's trace).
// CPU: process.cpuUsage() (all threads: the capture thread and the JavaScript thread)
// over the steady window, which starts WARMUP_S after the first frame.
import { touch, GapRecorder, round } from './measure.mjs';
import { MINIAV_DEVICE_ID, WARMUP_S, msStats, threadCpu, threadDiff } from './v4l2-common.mjs';

const o = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const tImport0 = performance.now();
// The built package, as bench/x11.mjs uses it.
const { camera, now, getBackends } = await import('../../packages/node/dist/index.js');
const importMs = performance.now() - tImport0;
if (!getBackends('camera').includes('v4l2')) {
  process.stdout.write(
    JSON.stringify({
      skipped: `the built addon has no v4l2 camera backend (backends: ${getBackends('camera').join(', ')}); rebuild it (npm run build)`,
    }) + '\n',
  );
  process.exit(0);
}

// First frame only, with extra open options ({"firstOnly":true,"backend":"v4l2",...}): the
// start-up of a fresh process that names its backend.
if (o.firstOnly) {
  const t0 = now();
  const s0 = await camera.open(MINIAV_DEVICE_ID, { width: o.width, height: o.height, pixelFormat: 'yuyv', frameRate: o.rate, backend: o.backend });
  const openUs = now() - t0;
  let firstUs = -1;
  const got = new Promise((resolve) => {
    s0.on('frame', (f) => {
      if (firstUs < 0) {
        firstUs = now() - t0;
        resolve();
      }
      f.release();
    });
  });
  await s0.start();
  await Promise.race([got, sleep(10000)]);
  await s0.stop();
  await s0.close();
  process.stdout.write(JSON.stringify({ backend: o.backend, importMs: round(importMs, 1), openMs: round(openUs / 1000, 2), firstFrameMs: firstUs >= 0 ? round(firstUs / 1000, 2) : null }) + '\n');
  process.exit(0);
}

const baselineThreads = threadCpu();
const tOpen = now();
const s = await camera.open(MINIAV_DEVICE_ID, {
  width: o.width,
  height: o.height,
  pixelFormat: 'yuyv',
  frameRate: o.rate,
});
const openMs = (now() - tOpen) / 1000;
const backendName = s.backend;

let firstFrameUs = -1; // open() -> first frame in the handler
let firstTimestampUs = -1; // open() -> the first frame's timestampUs
let measuring = false;
let frames = 0; // in the window
let allFrames = 0;
let lastSeq = -1;
let seqJumps = 0; // in the window
let wrongSize = 0;
let copiedFrames = 0;
let negativeLatency = 0;
const latencyUs = [];
const win = { seq: [], jsUs: [], tsUs: [] };
const gaps = new GapRecorder();
let firstFrameResolve;
const firstFrame = new Promise((resolve) => (firstFrameResolve = resolve));

s.on('frame', (f) => {
  const t = now();
  const v = f.video;
  const p = v.planes[0];
  touch(p.data, p.stride);
  allFrames++;
  if (firstFrameUs < 0) {
    firstFrameUs = t - tOpen;
    firstTimestampUs = f.timestampUs - tOpen;
    process.stdout.write('F\n');
    firstFrameResolve();
  }
  if (measuring) {
    frames++;
    gaps.mark(t);
    const lat = t - f.timestampUs;
    if (lat < 0) negativeLatency++;
    latencyUs.push(lat);
    win.seq.push(f.sequence);
    win.jsUs.push(t);
    win.tsUs.push(f.timestampUs);
    if (lastSeq >= 0 && f.sequence !== lastSeq + 1) seqJumps++;
    if (v.width !== o.width || v.height !== o.height || v.pixelFormat !== 'yuyv' || p.data.length < o.width * 2 * o.height) wrongSize++;
    if (f.copied) copiedFrames++;
  }
  lastSeq = f.sequence;
  f.release();
});
let streamError = null;
s.on('error', (e) => {
  streamError = e?.message ?? String(e);
  process.stderr.write(`miniav stream error: ${streamError}\n`);
  firstFrameResolve();
});

const tStart = now();
await s.start();
const startCallMs = (now() - tStart) / 1000;
const timeout = sleep(15000).then(() => 'timeout');
if ((await Promise.race([firstFrame.then(() => 'ok'), timeout])) === 'timeout' || firstFrameUs < 0) {
  process.stdout.write(JSON.stringify({ error: `no frame within 15 s${streamError ? `: ${streamError}` : ''}` }) + '\n');
  process.exit(1);
}

await sleep(WARMUP_S * 1000);
const stats0 = s.stats;
const threads0 = threadCpu();
const cpu0 = process.cpuUsage();
const tW0 = now();
measuring = true;
process.stdout.write('W0\n');
await sleep(o.seconds * 1000);
measuring = false;
const tW1 = now();
const cpu = process.cpuUsage(cpu0);
process.stdout.write('W1\n');
const threads1 = threadCpu();
const stats1 = s.stats;
await s.stop();
await s.close();

// Two more opens in the same process, first frame only: what start-up costs once the
// addon and whatever the first open() loaded are in place (default options), and with
// backend: 'v4l2' (no other backend is asked whether it is available).
async function openToFirstFrame(extra) {
  const t0 = now();
  const s2 = await camera.open(MINIAV_DEVICE_ID, { width: o.width, height: o.height, pixelFormat: 'yuyv', frameRate: o.rate, ...extra });
  const openUs = now() - t0;
  let firstUs = -1;
  const got = new Promise((resolve) => {
    s2.on('frame', (f) => {
      if (firstUs < 0) {
        firstUs = now() - t0;
        resolve();
      }
      f.release();
    });
  });
  await s2.start();
  await Promise.race([got, sleep(5000)]);
  await s2.stop();
  await s2.close();
  return { openMs: round(openUs / 1000, 2), firstFrameMs: firstUs >= 0 ? round(firstUs / 1000, 2) : null };
}
const again = await openToFirstFrame({});
const forced = await openToFirstFrame({ backend: 'v4l2' });

const wallUs = tW1 - tW0;
const cpuMs = (cpu.user + cpu.system) / 1000;
const perThread = threadDiff(threads0, threads1, baselineThreads);
// The JavaScript thread, and every thread started by open()/start() (the capture thread).
const mainMs = Object.entries(perThread).find(([k]) => k.startsWith('main:'))?.[1] ?? 0;
const newMs = Object.entries(perThread)
  .filter(([k]) => k.endsWith('(new)'))
  .reduce((a, [, v]) => a + v, 0);
const expected = (wallUs / 1e6) * (o.rate.num / o.rate.den);
const lat = msStats(latencyUs);
const gp = { p50: gaps.percentileMs(50), p99: gaps.percentileMs(99), max: gaps.maxMs() };
process.stdout.write(
  JSON.stringify({
    frames,
    fps: round(frames / (wallUs / 1e6), 2),
    wallS: round(wallUs / 1e6, 2),
    cpuMsPerFrame: frames ? round(cpuMs / frames, 3) : null,
    cpuPercent: round((cpuMs * 1000 * 100) / wallUs, 1),
    parts: frames
      ? {
          'capture thread': round(newMs / frames, 3),
          'JS thread': round(mainMs / frames, 3),
          'other threads': round(Math.max(0, cpuMs - newMs - mainMs) / frames, 3),
        }
      : null,
    gapP50Ms: round(gp.p50, 3),
    gapP99Ms: round(gp.p99, 3),
    gapMaxMs: round(gp.max, 3),
    // Filled in by the parent from the kernel trace (driver hand-over -> handler).
    latencyP50Ms: null,
    latencyP99Ms: null,
    latencyMaxMs: null,
    firstFrameMs: round(firstFrameUs / 1000, 2),
    // The window's drops: MiniAV's counter, and jumps in frame.sequence.
    dropped: stats1.dropped - stats0.dropped,
    extra: {
      seqJumps,
      shortfall: Math.max(0, Math.round(expected) - frames),
      warmupFrames: allFrames - frames,
      statsAtEnd: stats1,
      copiesPerFrame: stats1.delivered - stats0.delivered ? round((stats1.copies - stats0.copies) / (stats1.delivered - stats0.delivered), 2) : null,
      copiedFrames,
      wrongSize,
      // now() - frame.timestampUs in the handler: the issue's "driver timestamp -> JS". With
      // vivid frame.timestampUs is MiniAV's dequeue time (see lib/v4l2-trace.mjs).
      timestampToJsMs: lat,
      timestampToJsTop5Ms: Array.from(Float64Array.from(latencyUs).sort().slice(-5)).map((x) => round(x / 1000, 3)),
      negativeLatency,
      threadCpuMs: perThread,
      importMs: round(importMs, 1),
      openMs: round(openMs, 2),
      startCallMs: round(startCallMs, 2),
      // open() -> the first frame's timestamp (the driver's, or MiniAV's dequeue time).
      firstTimestampMs: round(firstTimestampUs / 1000, 2),
      // open() -> first frame of the later opens (see openToFirstFrame).
      secondOpen: again,
      v4l2BackendOpen: forced,
      backend: backendName,
    },
    window: win,
  }) + '\n',
);
process.exit(0); // timers (the 15 s first-frame guard) must not keep the process alive
