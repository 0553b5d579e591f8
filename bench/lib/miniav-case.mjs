// MiniAV test-pattern frames into a JavaScript 'frame' handler, measured in
// the calling process. Used in-process for the zero-copy row and from
// miniav-child.mjs (with MINIAV_FORCE_COPY=1) for the forced-copy row.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { GapRecorder, WIDTH, HEIGHT, touch, round } from './measure.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the camera for `seconds` and returns one result row (without name/id). */
export async function measureMiniAV(seconds) {
  // Imported here so a broken native build fails this row, not the whole bench.
  const { camera, now } = await import('../../packages/node/dist/index.js');
  const cam = await camera.open('test-pattern', { width: WIDTH, height: HEIGHT, pixelFormat: 'bgra', frameRate: 'max' });

  const gaps = new GapRecorder();
  let frames = 0;
  let firstFrameUs = -1;
  let seqMismatch = 0;
  let copiedFrames = 0;
  let tStart = 0;

  cam.on('frame', (f) => {
    const t = now();
    const plane = f.video.planes[0];
    // The pattern writes its own counter into the pixels: checks we got the frame we were told.
    if (touch(plane.data, plane.stride) !== f.sequence >>> 0) seqMismatch++;
    if (f.copied) copiedFrames++;
    if (firstFrameUs < 0) firstFrameUs = t - tStart;
    gaps.mark(t);
    frames++;
    f.release();
  });
  cam.on('error', (e) => {
    process.stderr.write(`miniav stream error: ${e?.message ?? e}\n`);
  });

  // Frames arrive through the event loop: if delivery starves it, timers and
  // I/O of the application suffer, so record how late the loop ran.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  tStart = now();
  await cam.start();
  await sleep(seconds * 1000);
  await cam.stop();
  const wallUs = now() - tStart;
  const cpu = process.cpuUsage(cpu0);
  loopDelay.disable();
  const stats = cam.stats;
  await cam.close();

  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    fps: round(frames / (wallUs / 1e6), 1),
    cpuMsPerFrame: frames ? round(cpuMs / frames, 3) : null,
    cpuPercent: round((cpuMs * 1000 * 100) / wallUs, 0),
    copiesPerFrame: stats.delivered ? round(stats.copies / stats.delivered, 2) : null,
    dropped: stats.dropped,
    gapP50Ms: round(gaps.percentileMs(50), 3),
    gapP99Ms: round(gaps.percentileMs(99), 3),
    firstFrameMs: firstFrameUs >= 0 ? round(firstFrameUs / 1000, 3) : null,
    frames,
    wallS: round(wallUs / 1e6, 2),
    gapMaxMs: round(gaps.maxMs(), 3),
    extra: {
      stats,
      seqMismatch,
      copiedFrames,
      // Histogram values include the 10 ms sampling interval itself.
      eventLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6, 1),
      eventLoopDelayMaxMs: round(loopDelay.max / 1e6, 1),
    },
  };
}
