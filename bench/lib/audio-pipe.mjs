// A recorder process (parec, ffmpeg -f pulse) writing raw s16le 48 kHz stereo to its
// stdout, read by Node: gaps between reads, CPU of the child (/proc) + this process,
// time from spawn to the first bytes, and the same sample checks as the MiniAV row.
import { spawn } from 'node:child_process';
import { GapRecorder, monoUs, procCpuMs, round, selfCpuMs } from './measure.mjs';
import { CountVsClock, SineChecker } from './audio-signal.mjs';

const RATE = 48000;
const CHANNELS = 2;
const FRAME_BYTES = 2 * CHANNELS;
const FIRST_DATA_TIMEOUT_MS = 10000;

/**
 * @param {{ command: string, args: string[], seconds: number, micHz: number, serverPid?: number | null, children: Set<import('node:child_process').ChildProcess> }} o
 */
export function measurePipeAudio(o) {
  return new Promise((resolve, reject) => {
    const gaps = new GapRecorder();
    const sine = new SineChecker({ hz: o.micHz, rate: RATE, channels: CHANNELS });
    const vsClock = new CountVsClock(RATE);
    let reads = 0;
    let bytes = 0;
    let carry = Buffer.alloc(0); // a partial frame left from the previous read
    let firstDataUs = -1;
    let stderr = '';
    let result = null;
    let window = null;
    let done = false;
    const tSpawn = monoUs();
    const child = spawn(o.command, o.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    o.children.add(child);

    child.stdout.on('data', (chunk) => {
      if (done) return;
      const t = monoUs();
      if (firstDataUs < 0) {
        firstDataUs = t - tSpawn;
        clearTimeout(firstTimer);
        // The measured window starts at the first data: process start-up is not counted in CPU.
        window = { t0: t, child0: procCpuMs(child.pid), self0: selfCpuMs(), server0: o.serverPid ? procCpuMs(o.serverPid) : null };
        setTimeout(finish, o.seconds * 1000);
      }
      reads++;
      bytes += chunk.length;
      gaps.mark(t);
      // Whole frames as Int16Array (copied when a read splits a frame or is unaligned).
      let buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const whole = buf.length - (buf.length % FRAME_BYTES);
      carry = Buffer.from(buf.subarray(whole));
      if (whole) {
        if (buf.byteOffset % 2) buf = Buffer.from(buf.subarray(0, whole));
        sine.push(new Int16Array(buf.buffer, buf.byteOffset, whole / 2));
        vsClock.mark(t, whole / FRAME_BYTES);
      }
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.length > 20000) stderr = stderr.slice(-10000);
    });

    function finish() {
      const t1 = monoUs();
      // Read the child's CPU before signalling it: after exit /proc has nothing.
      const childCpuMs = procCpuMs(child.pid) - window.child0;
      const selfMs = selfCpuMs() - window.self0;
      const serverCpuMs = o.serverPid ? procCpuMs(o.serverPid) - window.server0 : null;
      done = true;
      const wallUs = t1 - window.t0;
      const drift = vsClock.result();
      const frames = Math.floor(bytes / FRAME_BYTES);
      result = {
        buffers: reads,
        gapP50Ms: round(gaps.percentileMs(50), 3),
        gapP99Ms: round(gaps.percentileMs(99), 3),
        gapMaxMs: round(gaps.maxMs(), 3),
        cpuPercent: round(((childCpuMs + selfMs) * 1000 * 100) / wallUs, 2),
        firstDataMs: round(firstDataUs / 1000, 2),
        lostBuffers: null, // a pipe has no counter; see sineBreaks and driftPpm
        sineBreaks: sine.breaks,
        tsMaxDevUs: null,
        driftPpm: round(drift.driftPpm, 1),
        wallS: round(wallUs / 1e6, 2),
        gapsUs: gaps.gapsUs(),
        extra: {
          childCpuPercent: round((childCpuMs * 1000 * 100) / wallUs, 2),
          readerCpuPercent: round((selfMs * 1000 * 100) / wallUs, 2),
          serverCpuPercent: serverCpuMs === null ? null : round((serverCpuMs * 1000 * 100) / wallUs, 2),
          bytesPerRead: reads ? round(bytes / reads, 0) : null,
          frames,
          driftMs: round(drift.driftMs, 3),
          sinePeak: round(sine.peak / 32768, 4),
          sineBreakAtSample: sine.breakAtSample,
        },
      };
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
    }

    let killTimer = null;
    const firstTimer = setTimeout(() => {
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`no data within ${FIRST_DATA_TIMEOUT_MS} ms: ${stderr.trim().slice(-500)}`));
    }, FIRST_DATA_TIMEOUT_MS);

    child.on('error', (e) => {
      clearTimeout(firstTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      clearTimeout(firstTimer);
      o.children.delete(child);
      if (!result) reject(new Error(`${o.command} exited early (code ${code}, signal ${signal}): ${stderr.trim().slice(-500)}`));
      else resolve(result);
    });
  });
}
