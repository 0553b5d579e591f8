// MiniAV X11 screen capture ('x11:root') into a JavaScript 'frame' handler, in the
// bench process. CPU is this process (all threads, process.cpuUsage()) plus the
// X server (/proc/<pid>/stat), both from just before start() to just after stop().
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { GapRecorder, WIDTH, HEIGHT, touch, round, procCpuMs } from './measure.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * CPU ms of each thread of this process, keyed "<name>:<tid>" ("main" for the
 * JavaScript thread). The capture thread is the one that appears with start().
 */
export function threadCpu() {
  const out = {};
  for (const tid of readdirSync('/proc/self/task')) {
    let stat;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = Number(tid) === process.pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    out[`${name}:${tid}`] = procCpuMs(`self/task/${tid}`);
  }
  return out;
}

/** Threads that used >= 5 ms between two threadCpu() samples; new ones marked "(new)". */
function diffThreads(a, b) {
  const out = {};
  for (const [k, v] of Object.entries(b)) {
    const d = v - (a[k] ?? 0);
    if (d >= 5) out[k in a ? k : `${k} (new)`] = round(d, 0);
  }
  return out;
}

/**
 * @param {object} o
 * @param {number | 'max'} o.rate
 * @param {number} o.seconds
 * @param {number | null} o.xPid the X server, or null when it cannot be found
 * @param {number} [o.expectedPixel] the root's colour as 0xRRGGBB, to check the frames
 */
export async function measureMiniAVScreen(o) {
  // Imported here so a broken native build fails this row, not the whole bench.
  const { screen, now } = await import('../../packages/node/dist/index.js');
  const tOpen = now();
  const s = await screen.open('x11:root', { frameRate: o.rate, pixelFormat: 'bgra' });
  const openMs = (now() - tOpen) / 1000;

  const gaps = new GapRecorder();
  let frames = 0;
  let firstFrameUs = -1;
  let firstCaptureUs = -1;
  let wrongSize = 0;
  let wrongPixel = 0;
  let copiedFrames = 0;
  let tStart = 0;
  const want = o.expectedPixel ?? null;

  s.on('frame', (f) => {
    const t = now();
    const v = f.video;
    const p = v.planes[0];
    touch(p.data, p.stride);
    if (v.width !== WIDTH || v.height !== HEIGHT || p.data.length < p.stride * HEIGHT) wrongSize++;
    // BGRA of a depth-24 root: B, G, R of the root colour and alpha 255.
    if (want !== null && (p.data[0] !== (want & 0xff) || p.data[1] !== ((want >> 8) & 0xff) || p.data[2] !== want >> 16 || p.data[3] !== 255))
      wrongPixel++;
    if (f.copied) copiedFrames++;
    if (firstFrameUs < 0) {
      firstFrameUs = t - tStart;
      firstCaptureUs = f.timestampUs - tStart; // when the capture thread asked X for it
    }
    gaps.mark(t);
    frames++;
    f.release();
  });
  s.on('error', (e) => process.stderr.write(`miniav stream error: ${e?.message ?? e}\n`));

  // Only at 'max': its 10 ms timer would add wake-ups (CPU) to the paced rows.
  const loopDelay = o.rate === 'max' ? monitorEventLoopDelay({ resolution: 10 }) : null;
  loopDelay?.enable();
  const threads0 = threadCpu();
  const x0 = o.xPid ? procCpuMs(o.xPid) : null;
  const cpu0 = process.cpuUsage();
  tStart = now();
  await s.start();
  const startCallMs = (now() - tStart) / 1000;
  await sleep(o.seconds * 1000);
  // Before stop(): the capture thread is joined there and leaves /proc/self/task.
  const threads1 = threadCpu();
  await s.stop();
  const wallUs = now() - tStart;
  const cpu = process.cpuUsage(cpu0);
  const xMs = o.xPid ? procCpuMs(o.xPid) - x0 : null;
  loopDelay?.disable();
  const stats = s.stats;
  await s.close();

  const clientMs = (cpu.user + cpu.system) / 1000;
  const totalMs = clientMs + (xMs ?? 0);
  const pct = (ms) => round((ms * 1000 * 100) / wallUs, 1);
  const shortfall = typeof o.rate === 'number' ? Math.max(0, Math.round((o.rate * wallUs) / 1e6) - frames) : null;
  return {
    fps: round(frames / (wallUs / 1e6), 1),
    cpuPercent: pct(totalMs),
    cpuMsPerFrame: frames ? round(totalMs / frames, 3) : null,
    clientCpuPercent: pct(clientMs),
    xCpuPercent: xMs === null ? null : pct(xMs),
    gapP50Ms: round(gaps.percentileMs(50), 3),
    gapP99Ms: round(gaps.percentileMs(99), 3),
    gapMaxMs: round(gaps.maxMs(), 3),
    firstFrameMs: firstFrameUs >= 0 ? round(firstFrameUs / 1000, 2) : null,
    dropped: stats.dropped,
    frames,
    wallS: round(wallUs / 1e6, 2),
    extra: {
      stats,
      shortfall,
      clientCpuMsPerFrame: frames ? round(clientMs / frames, 3) : null,
      xCpuMsPerFrame: frames && xMs !== null ? round(xMs / frames, 3) : null,
      // Per thread name, ms over the window up to just before stop() (>= 5 ms only).
      threadCpuMs: diffThreads(threads0, threads1),
      openMs: round(openMs, 2),
      startCallMs: round(startCallMs, 2),
      // start() -> the capture thread's first xcb_shm_get_image (frame.timestampUs).
      firstCaptureMs: firstCaptureUs >= 0 ? round(firstCaptureUs / 1000, 2) : null,
      copiesPerFrame: stats.delivered ? round(stats.copies / stats.delivered, 2) : null,
      copiedFrames,
      wrongSize,
      wrongPixel,
      eventLoopDelayP99Ms: loopDelay ? round(loopDelay.percentile(99) / 1e6, 1) : null,
      eventLoopDelayMaxMs: loopDelay ? round(loopDelay.max / 1e6, 1) : null,
    },
  };
}
