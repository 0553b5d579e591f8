// ffmpeg x11grab writing raw BGRA frames to a pipe that Node reads and re-assembles:
// the usual way to get the screen into Node without a native addon. Same reading
// as lib/pipe-case.mjs, plus the X server's CPU and ffmpeg's drop counter.
// CPU: ffmpeg (/proc/<pid>/stat) + this process (process.cpuUsage()) + the X server
// (/proc), all over the same window, which starts at the first whole frame.
import { spawn } from 'node:child_process';
import { FRAME_BYTES, GapRecorder, WIDTH, HEIGHT, touch, monoUs, selfCpuMs, procCpuMs, round } from './measure.mjs';
import { frameReader, lineReader } from './pipes.mjs';

const STRIDE = WIDTH * 4;
const FIRST_FRAME_TIMEOUT_MS = 15000;
const EXIT_GRACE_MS = 3000;
// x11grab's -framerate for the 'max' row: far above what it can reach, so it never waits.
export const FFMPEG_MAX_RATE = 1000;

export function ffmpegX11Args(display, rate) {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    // key=value progress on stderr: frame, drop_frames, dup_frames.
    '-progress', 'pipe:2', '-stats_period', '0.5',
    '-f', 'x11grab', '-framerate', String(rate === 'max' ? FFMPEG_MAX_RATE : rate),
    '-video_size', `${WIDTH}x${HEIGHT}`, '-draw_mouse', '0', '-i', display,
    // Every grabbed frame once: no duplicates to fill a constant-rate timeline.
    '-fps_mode', 'passthrough',
    '-pix_fmt', 'bgra', '-f', 'rawvideo', 'pipe:1',
  ];
}

/**
 * @param {object} o
 * @param {string} o.ffmpeg path
 * @param {string} o.display
 * @param {number | 'max'} o.rate
 * @param {number} o.seconds
 * @param {number | null} o.xPid
 * @param {Set} o.children registry so the bench can kill stragglers
 */
export function measureFfmpegX11(o) {
  return new Promise((resolve, reject) => {
    const args = ffmpegX11Args(o.display, o.rate);
    const tSpawn = monoUs();
    const child = spawn(o.ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    o.children.add(child);

    const frame = Buffer.allocUnsafe(FRAME_BYTES);
    let stderr = '';
    let progress = { drop_frames: 0, dup_frames: 0 };
    let state = 'waiting'; // waiting -> measuring -> draining
    let firstFrameUs = null;
    let frames = 0;
    const gaps = new GapRecorder();
    let win = null;
    let result = null;
    let firstFrameTimer = null;
    let killTimer = null;

    function onWholeFrame() {
      const t = monoUs();
      touch(frame, STRIDE);
      if (state === 'waiting') {
        firstFrameUs = t - tSpawn;
        clearTimeout(firstFrameTimer);
        // From the first frame on, so process start-up is not billed per frame.
        win = {
          t0: t,
          parentCpu0: selfCpuMs(),
          childCpu0: procCpuMs(child.pid),
          xCpu0: o.xPid ? procCpuMs(o.xPid) : null,
          progress0: { ...progress },
        };
        state = 'measuring';
        gaps.mark(t);
        setTimeout(finishWindow, o.seconds * 1000);
        return;
      }
      if (state !== 'measuring') return;
      frames++;
      gaps.mark(t);
    }

    const readFrames = frameReader(frame, onWholeFrame);
    child.stdout.on('data', (chunk) => {
      if (state !== 'draining') readFrames(chunk);
    });
    child.stderr.on(
      'data',
      lineReader((line) => {
        const m = /^(drop_frames|dup_frames)=(\d+)$/.exec(line.trim());
        if (m) progress = { ...progress, [m[1]]: Number(m[2]) };
        else if (!/^\w+=/.test(line)) stderr += line + '\n';
      }),
    );

    function finishWindow() {
      const t1 = monoUs();
      const childMs = procCpuMs(child.pid) - win.childCpu0;
      const parentMs = selfCpuMs() - win.parentCpu0;
      const xMs = o.xPid ? procCpuMs(o.xPid) - win.xCpu0 : null;
      state = 'draining';
      const wallUs = t1 - win.t0;
      const clientMs = childMs + parentMs;
      const totalMs = clientMs + (xMs ?? 0);
      const pct = (ms) => round((ms * 1000 * 100) / wallUs, 1);
      result = {
        fps: round(frames / (wallUs / 1e6), 1),
        cpuPercent: pct(totalMs),
        cpuMsPerFrame: frames ? round(totalMs / frames, 3) : null,
        clientCpuPercent: pct(clientMs),
        xCpuPercent: xMs === null ? null : pct(xMs),
        gapP50Ms: round(gaps.percentileMs(50), 3),
        gapP99Ms: round(gaps.percentileMs(99), 3),
        gapMaxMs: round(gaps.maxMs(), 3),
        firstFrameMs: round(firstFrameUs / 1000, 2),
        // Frames ffmpeg itself discarded (-progress drop_frames; 0 with passthrough).
        // x11grab does not count frames it grabbed late; see extra.shortfall.
        dropped: progress.drop_frames - win.progress0.drop_frames,
        frames,
        wallS: round(wallUs / 1e6, 2),
        extra: {
          shortfall: typeof o.rate === 'number' ? Math.max(0, Math.round((o.rate * wallUs) / 1e6) - frames) : null,
          dupFrames: progress.dup_frames - win.progress0.dup_frames,
          ffmpegCpuMsPerFrame: frames ? round(childMs / frames, 3) : null,
          readerCpuMsPerFrame: frames ? round(parentMs / frames, 3) : null,
          xCpuMsPerFrame: frames && xMs !== null ? round(xMs / frames, 3) : null,
          ffmpegCpuPercent: pct(childMs),
          readerCpuPercent: pct(parentMs),
          // x11grab hands over its shm segment; then swscale bgr0->bgra (a pass like MiniAV's
          // alpha pass), rawvideo encoder copy, write(), read(), re-assembly.
          copiesPerFrame: 4,
          command: `ffmpeg ${args.join(' ')}`,
        },
      };
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), EXIT_GRACE_MS);
    }

    firstFrameTimer = setTimeout(() => {
      state = 'draining';
      child.kill('SIGKILL');
      reject(new Error(`no frame within ${FIRST_FRAME_TIMEOUT_MS} ms: ${stderr.trim().slice(-500)}`));
    }, FIRST_FRAME_TIMEOUT_MS);

    child.on('error', (e) => {
      clearTimeout(firstFrameTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      clearTimeout(firstFrameTimer);
      o.children.delete(child);
      if (!result) {
        reject(new Error(`ffmpeg exited early (code ${code}, signal ${signal}): ${stderr.trim().slice(-500)}`));
        return;
      }
      resolve(result);
    });
  });
}
