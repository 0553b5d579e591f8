// The two child-process cases of bench/v4l2.mjs, run inside the vivid VM:
//  - ffmpeg -f v4l2 ... -f rawvideo pipe:1, whose stdout this process reads and
//    re-assembles into W*H*2-byte frames (how Node programs get camera frames today);
//  - v4l2-ctl --stream-mmap --stream-to=/dev/null alone (the limit: mmap, DQBUF, QBUF,
//    nothing else), whose per-frame '<' on stderr gives the frame arrivals.
// Both: time to first frame from spawn (process start-up included); the steady window
// starts WARMUP_S after the first frame; CPU from /proc/<pid> (the child: schedstat of its
// threads) and process.cpuUsage() (this process, the reader) over that window. Every
// frame's arrival is kept on CLOCK_MONOTONIC for matching against the kernel's trace.
import { spawn, execFileSync } from 'node:child_process';
import { GapRecorder, touch, monoUs, selfCpuMs, round } from './measure.mjs';
import { DEVICE, WARMUP_S, frameBytes, rateText, rateValue, monoClockUs, processCpuMs, vividThreadCpuMs } from './v4l2-common.mjs';
import { frameReader, lineReader } from './pipes.mjs';

const FIRST_FRAME_TIMEOUT_MS = 20000;
const EXIT_GRACE_MS = 3000;

/**
 * Spawns a child that produces frames, and measures the steady window.
 * @param {object} o
 * @param {string} o.command
 * @param {string[]} o.args
 * @param {number} o.seconds window length
 * @param {number} o.expectedFps
 * @param {Set} o.children registry so the bench can kill stragglers
 * @param {(child, hooks: { frame: () => void, isDraining: () => boolean, log: (line: string) => void }) => void} o.attach
 *   wires the child's output; calls hooks.frame() once per frame as it arrives
 * @param {() => object} [o.counters] sampled at the window's start and end (for drops)
 * @param {(ctx) => object} o.finish builds the row from the window's numbers
 */
function measureFramedChild(o) {
  return new Promise((resolve, reject) => {
    const tSpawn = monoUs();
    const child = spawn(o.command, o.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    o.children.add(child);
    let state = 'waiting'; // waiting -> warm-up -> measuring -> draining
    let firstFrameUs = null;
    let frames = 0;
    let allFrames = 0;
    const arrivalsUs = [];
    let log = '';
    const gaps = new GapRecorder();
    let win = null;
    let result = null;
    let killTimer = null;
    let failure = null;

    function frame() {
      const t = monoUs();
      arrivalsUs.push(monoClockUs());
      allFrames++;
      if (state === 'waiting') {
        firstFrameUs = t - tSpawn;
        clearTimeout(firstFrameTimer);
        state = 'warm-up';
        setTimeout(startWindow, WARMUP_S * 1000);
        return;
      }
      if (state !== 'measuring') return;
      frames++;
      gaps.mark(t);
    }

    function startWindow() {
      if (state !== 'warm-up') return;
      try {
        win = { t0: monoUs(), child0: processCpuMs(child.pid), self0: selfCpuMs(), c0: o.counters?.(), vivid0: vividThreadCpuMs(), from: allFrames };
      } catch (e) {
        return stopChild(`child gone before the window: ${e.message}`);
      }
      state = 'measuring';
      setTimeout(endWindow, o.seconds * 1000);
    }

    function endWindow() {
      if (state !== 'measuring') return;
      const t1 = monoUs();
      let childMs;
      try {
        childMs = processCpuMs(child.pid) - win.child0;
      } catch (e) {
        return stopChild(`child gone before the end of the window: ${e.message}`);
      }
      const selfMs = selfCpuMs() - win.self0;
      const vivid1 = vividThreadCpuMs();
      const c1 = o.counters?.();
      const wallUs = t1 - win.t0;
      result = o.finish({
        frames,
        wallUs,
        childMs,
        selfMs,
        gaps,
        firstFrameUs,
        warmupFrames: allFrames - frames,
        expected: (wallUs / 1e6) * o.expectedFps,
        c0: win.c0,
        c1,
      });
      // The child's CPU from its start to the window's end over every frame so far: how a
      // whole short run measured with time(1) would come out (start-up included).
      try {
        result.extra.cpuMsPerFrameFromSpawn = round(processCpuMs(child.pid) / allFrames, 3);
      } catch {
        /* gone */
      }
      result.extra.vividKthreadMsPerFrame = frames && win.vivid0 !== null && vivid1 !== null ? round((vivid1 - win.vivid0) / frames, 3) : null;
      result.arrivals = { us: arrivalsUs, from: win.from, count: frames };
      stopChild(null);
    }

    function stopChild(err) {
      failure = err;
      state = 'draining';
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), EXIT_GRACE_MS);
    }

    const firstFrameTimer = setTimeout(() => stopChild(`no frame within ${FIRST_FRAME_TIMEOUT_MS} ms`), FIRST_FRAME_TIMEOUT_MS);
    o.attach(child, { frame, isDraining: () => state === 'draining', log: (line) => (log += line + '\n') });

    child.on('error', (e) => {
      clearTimeout(firstFrameTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      clearTimeout(firstFrameTimer);
      o.children.delete(child);
      if (result && !failure) resolve(result);
      else reject(new Error(`${failure ?? `${o.command} exited early (code ${code}, signal ${signal})`}: ${log.trim().slice(-500)}`));
    });
  });
}

function commonRow(ctx, totalMs) {
  const { frames, wallUs, gaps } = ctx;
  return {
    frames,
    fps: round(frames / (wallUs / 1e6), 2),
    wallS: round(wallUs / 1e6, 2),
    cpuMsPerFrame: frames ? round(totalMs / frames, 3) : null,
    cpuPercent: round((totalMs * 1000 * 100) / wallUs, 1),
    gapP50Ms: round(gaps.percentileMs(50), 3),
    gapP99Ms: round(gaps.percentileMs(99), 3),
    gapMaxMs: round(gaps.maxMs(), 3),
    firstFrameMs: round(ctx.firstFrameUs / 1000, 2),
  };
}

export function ffmpegArgs(fmt) {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    // key=value progress on stderr: frame, drop_frames, dup_frames.
    '-progress', 'pipe:2', '-stats_period', '0.5',
    '-f', 'v4l2', '-framerate', rateText(fmt.rate), '-video_size', `${fmt.width}x${fmt.height}`,
    '-input_format', 'yuyv422', '-i', DEVICE,
    // Every captured frame once, as it came.
    '-fps_mode', 'passthrough',
    '-f', 'rawvideo', 'pipe:1',
  ];
}

/**
 * ffmpeg -f v4l2 -> raw YUYV on a pipe -> this process, re-assembled into whole
 * frames and touched (one byte per row), like the MiniAV handler does.
 */
export function measureFfmpegV4l2({ ffmpeg, fmt, seconds, children }) {
  const bytes = frameBytes(fmt);
  const stride = fmt.width * 2;
  const buf = Buffer.allocUnsafe(bytes);
  let progress = { drop_frames: 0, dup_frames: 0, frame: 0 };
  const args = ffmpegArgs(fmt);
  return measureFramedChild({
    command: ffmpeg,
    args,
    seconds,
    children,
    expectedFps: rateValue(fmt.rate),
    counters: () => ({ ...progress }),
    attach(child, hooks) {
      const readFrames = frameReader(buf, () => {
        touch(buf, stride);
        hooks.frame();
      });
      child.stdout.on('data', (chunk) => {
        if (!hooks.isDraining()) readFrames(chunk);
      });
      child.stderr.on(
        'data',
        lineReader((line) => {
          const m = /^(drop_frames|dup_frames|frame)=(\d+)$/.exec(line.trim());
          if (m) progress = { ...progress, [m[1]]: Number(m[2]) };
          else if (!/^\w+=/.test(line)) hooks.log(line);
        }),
      );
    },
    finish(ctx) {
      const total = ctx.childMs + ctx.selfMs;
      return {
        ...commonRow(ctx, total),
        parts: ctx.frames ? { ffmpeg: round(ctx.childMs / ctx.frames, 3), 'Node reader': round(ctx.selfMs / ctx.frames, 3) } : null,
        latencyP50Ms: null,
        latencyP99Ms: null,
        latencyMaxMs: null,
        // Frames ffmpeg itself dropped in the window (-progress drop_frames).
        dropped: ctx.c1.drop_frames - ctx.c0.drop_frames,
        extra: {
          shortfall: Math.max(0, Math.round(ctx.expected) - ctx.frames),
          warmupFrames: ctx.warmupFrames,
          dupFrames: ctx.c1.dup_frames - ctx.c0.dup_frames,
          ffmpegCpuPercent: round((ctx.childMs * 1000 * 100) / ctx.wallUs, 1),
          readerCpuPercent: round((ctx.selfMs * 1000 * 100) / ctx.wallUs, 1),
          command: `ffmpeg ${args.join(' ')}`,
        },
      };
    },
  });
}

function v4l2ctl(args) {
  return execFileSync('v4l2-ctl', ['-d', DEVICE, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
}

/**
 * v4l2-ctl streaming into /dev/null: the bare V4L2 mmap loop. The frame rate is set by a
 * separate call first (`-p` in the streaming call would print into the stream's output);
 * it is a property of the device, so it holds for the streaming call, which sets the same
 * size again. Only v4l2-ctl's own CPU is the row's CPU; reading its '<' marks costs this
 * process a little, reported apart (extra.readerCpuMsPerFrame).
 */
export async function measureV4l2Ctl({ fmt, seconds, children }) {
  const fmtArg = `--set-fmt-video=width=${fmt.width},height=${fmt.height},pixelformat=YUYV`;
  const t0 = monoUs();
  v4l2ctl([fmtArg]);
  v4l2ctl(['-p', rateText(fmt.rate)]);
  const setupMs = (monoUs() - t0) / 1000;
  const parm = /Frames per second:\s*(.*)/.exec(v4l2ctl(['--get-parm']))?.[1]?.trim() ?? null;
  // Far more frames than the window needs: the process is ended after the window.
  const args = ['-d', DEVICE, fmtArg, '--stream-mmap', '--stream-count=100000', '--stream-to=/dev/null'];
  let marks = 0;
  let lastFpsLine = null;
  const row = await measureFramedChild({
    command: 'v4l2-ctl',
    args,
    seconds,
    children,
    expectedFps: rateValue(fmt.rate),
    attach(child, hooks) {
      child.stdout.on('data', (d) => hooks.log(String(d).trim()));
      let line = '';
      child.stderr.on('data', (d) => {
        const text = String(d);
        for (const ch of text) {
          if (ch === '<' || ch === 'K') {
            marks++;
            hooks.frame();
          } else if (ch === '\n') {
            if (/fps/.test(line)) lastFpsLine = line.trim();
            else if (line.trim()) hooks.log(line);
            line = '';
          } else line += ch;
        }
      });
    },
    finish(ctx) {
      return {
        ...commonRow(ctx, ctx.childMs),
        parts: ctx.frames ? { 'v4l2-ctl': round(ctx.childMs / ctx.frames, 3) } : null,
        latencyP50Ms: null,
        latencyP99Ms: null,
        latencyMaxMs: null,
        dropped: null,
        extra: {
          shortfall: Math.max(0, Math.round(ctx.expected) - ctx.frames),
          warmupFrames: ctx.warmupFrames,
          readerCpuMsPerFrame: ctx.frames ? round(ctx.selfMs / ctx.frames, 3) : null,
        },
      };
    },
  });
  row.extra.setupMs = round(setupMs, 1);
  row.extra.frameRateParm = parm;
  row.extra.lastFpsLine = lastFpsLine;
  row.extra.command = `v4l2-ctl -d ${DEVICE} ${fmtArg}; v4l2-ctl -d ${DEVICE} -p ${rateText(fmt.rate)}; v4l2-ctl ${args.join(' ')}`;
  return row;
}
