// MiniAV into a JavaScript 'frame' handler, in the bench process: the portal screen
// ('portal:monitor', 1920x1080 BGRx) or a PipeWire camera ('pipewire:<node>', YUY2).
// The handler touches each frame (one byte per row, lib/measure.mjs touch()), checks its
// content, and releases it. Steady window: from warmupS after the first frame, `seconds` long.
// CPU over the window: this process (process.cpuUsage(): every thread, MiniAV's included),
// split per thread from /proc/self/task/*/schedstat; the rig's daemons from /proc.
import { GapRecorder, touch, round } from './measure.mjs';
import { percentile, threadCpu, threadDiff } from './v4l2-common.mjs';
import { sourcesDiff, sourcesSnapshot } from './portal-rig.mjs';

const FIRST_FRAME_TIMEOUT_MS = 15000;

/**
 * @param {object} o
 * @param {'screen' | 'camera'} o.kind
 * @param {string} o.id 'portal:monitor' or 'pipewire:<node>'
 * @param {object} o.options open() options
 * @param {number} o.seconds
 * @param {number} o.warmupS
 * @param {(f: object) => boolean} o.contentOk the frame's pixels are what the source sends
 * @param {boolean} [o.stamped] bytes 0-3 hold the source's frame number (the fake camera)
 * @param {Record<string, number>} [o.extraPids] more source-side processes to account (camera)
 */
export async function measureMiniAVVideo(o) {
  // Imported here so a broken native build fails this row, not the whole bench.
  const miniav = await import('../../packages/node/dist/index.js');
  const { now } = miniav;
  const api = o.kind === 'screen' ? miniav.screen : miniav.camera;

  const tOpen = now();
  const s = await api.open(o.id, o.options);
  const openMs = (now() - tOpen) / 1000;

  let phase = 'warmup'; // warmup -> measuring -> done
  let firstFrameUs = -1;
  let firstFrameFromStartUs = -1;
  let tStart = 0;
  let frames = 0;
  let allFrames = 0;
  let wrongContent = 0;
  let wrongSize = 0;
  let copied = 0;
  let seqJumps = 0; // frames missing by frame.sequence inside the window
  let stampJumps = 0; // frames missing by the source's own number in the pixels
  let lastSeq = null;
  let lastStamp = null;
  let formatSeen = null;
  const gaps = new GapRecorder();
  const tsToJsUs = [];
  let win0 = null;
  let win1 = null;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));

  const snapshot = () => ({
    t: now(),
    cpu: process.cpuUsage(),
    threads: threadCpu(),
    sources: sourcesSnapshot(o.extraPids),
    stats: { ...s.stats },
  });

  s.on('frame', (f) => {
    const t = now();
    const v = f.video;
    const p = v.planes[0];
    const stamp = touch(p.data, p.stride);
    allFrames++;
    if (firstFrameUs < 0) {
      firstFrameUs = t - tOpen;
      firstFrameFromStartUs = t - tStart;
      formatSeen = `${v.width}x${v.height} ${v.pixelFormat} stride ${p.stride}`;
      setTimeout(() => {
        win0 = snapshot();
        phase = 'measuring';
        setTimeout(() => {
          win1 = snapshot();
          phase = 'done';
          resolveDone();
        }, o.seconds * 1000);
      }, o.warmupS * 1000);
    }
    if (phase === 'measuring') {
      frames++;
      gaps.mark(t);
      tsToJsUs.push(t - f.timestampUs);
      if (lastSeq !== null && f.sequence !== lastSeq + 1) seqJumps += Math.max(0, f.sequence - lastSeq - 1);
      if (o.stamped && lastStamp !== null && stamp !== lastStamp + 1) stampJumps += Math.max(0, stamp - lastStamp - 1);
      if (!o.contentOk(f)) wrongContent++;
      if (p.data.length < p.stride * v.height) wrongSize++;
      if (f.copied) copied++;
    }
    lastSeq = f.sequence;
    lastStamp = stamp;
    f.release();
  });
  let errors = 0;
  s.on('error', (e) => {
    errors++;
    process.stderr.write(`miniav stream error: ${e?.message ?? e}\n`);
  });

  tStart = now();
  await s.start();
  const startCallMs = (now() - tStart) / 1000;
  const timeout = new Promise((_, reject) => {
    const timer = setTimeout(() => {
      if (firstFrameUs < 0) reject(new Error(`no frame within ${FIRST_FRAME_TIMEOUT_MS} ms of start()`));
    }, FIRST_FRAME_TIMEOUT_MS);
    done.then(() => clearTimeout(timer));
  });
  try {
    await Promise.race([done, timeout]);
  } finally {
    await s.stop().catch(() => {});
    await s.close().catch(() => {});
  }

  const wallUs = win1.t - win0.t;
  const cpuMs = (win1.cpu.user - win0.cpu.user + win1.cpu.system - win0.cpu.system) / 1000;
  const threads = threadDiff(win0.threads, win1.threads);
  const mainMs = Object.entries(threads).find(([k]) => k.startsWith('main:'))?.[1] ?? 0;
  const src = sourcesDiff(win0.sources, win1.sources);
  const perFrame = (ms) => (frames && ms !== null && ms !== undefined ? round(ms / frames, 3) : null);
  const pct = (ms) => round((ms * 1000 * 100) / wallUs, 1);
  const st = (k) => win1.stats[k] - win0.stats[k];
  return {
    frames,
    fps: round(frames / (wallUs / 1e6), 2),
    cpuMsPerFrame: perFrame(cpuMs),
    cpuPercent: pct(cpuMs),
    parts: { js: perFrame(mainMs), 'other threads': perFrame(cpuMs - mainMs) },
    sources: src.ms,
    otherLoadPercent: null, // filled by the caller, who knows which sources belong to the row
    machineBusyMs: src.machineBusyMs,
    ownCpuMs: cpuMs,
    gapP50Ms: round(gaps.percentileMs(50), 2),
    gapP99Ms: round(gaps.percentileMs(99), 2),
    gapMaxMs: round(gaps.maxMs(), 2),
    firstFrameMs: round(firstFrameUs / 1000, 1),
    dropped: st('dropped') + seqJumps + stampJumps,
    wallS: round(wallUs / 1e6, 2),
    extra: {
      format: formatSeen,
      openMs: round(openMs, 1),
      startCallMs: round(startCallMs, 1),
      firstFrameFromStartMs: round(firstFrameFromStartUs / 1000, 1),
      statsWindow: { delivered: st('delivered'), dropped: st('dropped'), copies: st('copies'), skipped: st('skipped') },
      statsEnd: win1.stats,
      seqJumps,
      stampJumps: o.stamped ? stampJumps : null,
      copiesPerFrame: st('delivered') ? round(st('copies') / st('delivered'), 2) : null,
      copiedFrames: copied,
      wrongContent,
      wrongSize,
      errors,
      framesIncludingWarmup: allFrames,
      // now() - frame.timestampUs: from the time MiniAV stamps on the frame to the handler.
      timestampToJsMs: {
        p50: round(percentile(tsToJsUs, 50) / 1000, 2),
        p99: round(percentile(tsToJsUs, 99) / 1000, 2),
      },
      threadCpuMs: threads,
      sourceCpuMs: Object.fromEntries(Object.entries(src.ms).map(([k, v]) => [k, round(v, 1)])),
    },
  };
}
