// Frames produced by another process and read by Node from a pipe, then
// re-assembled into whole frames: the usual way to get video into Node today.
// CPU counts both sides: the child via /proc/<pid>/stat, the parent via
// process.cpuUsage(), both over the same window.
import { spawn } from 'node:child_process';
import { FRAME_BYTES, GapRecorder, WIDTH, touch, monoUs, selfCpuMs, procCpuMs, round } from './measure.mjs';
import { frameReader } from './pipes.mjs';

const STRIDE = WIDTH * 4;
const FIRST_FRAME_TIMEOUT_MS = 15000;
const EXIT_GRACE_MS = 3000;

/**
 * Spawns `command args`, reads raw BGRA frames from its stdout for `seconds`
 * after the first whole frame arrived, and returns one result row.
 * @param {object} o
 * @param {string} o.command
 * @param {string[]} o.args
 * @param {number} o.seconds
 * @param {boolean} o.sequenceInPixels the producer writes its frame counter into bytes 0-3
 * @param {number} o.copiesPerFrame the copies this path makes (see README)
 * @param {Set} o.children registry so run.mjs can kill stragglers
 */
export function measurePipe(o) {
  return new Promise((resolve, reject) => {
    const tSpawn = monoUs();
    const child = spawn(o.command, o.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    o.children.add(child);

    // One reused frame buffer: the consumer handles each frame synchronously.
    const frame = Buffer.allocUnsafe(FRAME_BYTES);
    let stderr = '';
    let state = 'waiting'; // waiting -> measuring -> draining
    let firstFrameUs = null;
    let frames = 0;
    let firstSeq = null;
    let lastSeq = null;
    let seqBackwards = 0;
    const gaps = new GapRecorder();
    let window = null; // { t0, parentCpu0, childCpu0 }
    let result = null;
    let firstFrameTimer = null;
    let killTimer = null;

    function onWholeFrame() {
      const t = monoUs();
      const seq = touch(frame, STRIDE);
      if (state === 'waiting') {
        firstFrameUs = t - tSpawn;
        clearTimeout(firstFrameTimer);
        // The window starts after the first frame so process start-up is not
        // billed to the per-frame CPU (the in-process rows do not pay it either).
        window = { t0: t, parentCpu0: selfCpuMs(), childCpu0: procCpuMs(child.pid) };
        state = 'measuring';
        gaps.mark(t);
        firstSeq = lastSeq = seq;
        setTimeout(finishWindow, o.seconds * 1000);
        return;
      }
      if (state !== 'measuring') return;
      frames++;
      gaps.mark(t);
      if (seq <= lastSeq) seqBackwards++;
      lastSeq = seq;
    }

    // The copy every pipe reader needs: kernel-sized chunks (64 KiB) into a whole frame.
    const readFrames = frameReader(frame, onWholeFrame);
    child.stdout.on('data', (chunk) => {
      if (state !== 'draining') readFrames(chunk); // keep reading so the child can exit
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });

    function finishWindow() {
      const t1 = monoUs();
      // Read the child's CPU before signalling it: after exit /proc has nothing.
      const childCpuMs = procCpuMs(child.pid) - window.childCpu0;
      const parentCpuMs = selfCpuMs() - window.parentCpu0;
      state = 'draining';
      const wallUs = t1 - window.t0;
      const cpuMs = childCpuMs + parentCpuMs;
      result = {
        fps: round(frames / (wallUs / 1e6), 1),
        cpuMsPerFrame: frames ? round(cpuMs / frames, 3) : null,
        cpuPercent: round((cpuMs * 1000 * 100) / wallUs, 0),
        copiesPerFrame: o.copiesPerFrame,
        // Frames the producer never got into the pipe, from the counter in the pixels.
        dropped: o.sequenceInPixels && frames ? lastSeq - firstSeq - frames : null,
        gapP50Ms: round(gaps.percentileMs(50), 3),
        gapP99Ms: round(gaps.percentileMs(99), 3),
        firstFrameMs: round(firstFrameUs / 1000, 3),
        frames,
        wallS: round(wallUs / 1e6, 2),
        gapMaxMs: round(gaps.maxMs(), 3),
        extra: {
          childCpuMsPerFrame: frames ? round(childCpuMs / frames, 3) : null,
          parentCpuMsPerFrame: frames ? round(parentCpuMs / frames, 3) : null,
          ...(o.sequenceInPixels ? { seqBackwards } : {}),
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
        reject(new Error(`${o.command} exited early (code ${code}, signal ${signal}): ${stderr.trim().slice(-500)}`));
        return;
      }
      // The MiniAV producer reports its own stats as the last stderr line.
      const last = stderr.trim().split('\n').pop();
      if (last?.startsWith('{')) {
        try {
          result.extra.producer = JSON.parse(last);
        } catch {
          /* not a report: ignore */
        }
      }
      resolve(result);
    });
  });
}
