// The Windows side of bench/windows.mjs: runs inside Windows node.exe (under Wine on the
// rig) and measures one case, then writes its result as JSON to a file (node.exe under
// Wine fails with EBADF when its own stdout is a pipe, so nothing is printed for the bench).
//
//   node.exe bench/lib/windows-child.mjs '<json>'
//   json: { case: 'miniav' | 'ffmpeg', rate: 30 | 'max', seconds, port, resultFile,
//           ffmpeg?: 'Z:\\...\\ffmpeg.exe', expectedPixel?: 0xRRGGBB }
//
// It connects to the bench on 127.0.0.1:<port> and says where its measuring window starts
// and ends ({"mark":"begin"} / {"mark":"end"}, one JSON line each); the bench answers
// "ok\n" once it has read the CPU of the Linux processes (node.exe, ffmpeg.exe, wineserver,
// Xvfb) there, so both sides count the same window.
//
// miniav: screen.open(<the default gdi display>, { frameRate: rate, pixelFormat: 'bgra' }) in
//   this process; a 'frame' handler touches each frame (bytes 0-3 and one byte per row,
//   lib/measure.mjs touch()), checks the centre pixel is the rig's colour, releases it.
//   Window: just before start() to just after stop() (as bench/lib/x11-miniav.mjs).
// ffmpeg: ffmpeg.exe -f gdigrab ... -f rawvideo pipe:1 spawned from here, its stdout read
//   and re-assembled into 8,294,400-byte frames, each touched the same way (as
//   bench/lib/x11-ffmpeg.mjs). Window: from the first whole frame, `seconds` long.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { FRAME_BYTES, GapRecorder, WIDTH, HEIGHT, touch, monoUs, selfCpuMs, round } from './measure.mjs';
import { frameReader, lineReader } from './pipes.mjs';

const STRIDE = WIDTH * 4;
const FIRST_FRAME_TIMEOUT_MS = 20000;
// gdigrab's -framerate for the 'max' row: far above what it reaches, so it never waits.
export const FFMPEG_MAX_RATE = 1000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const cfg = JSON.parse(process.argv[2]);

/** The link to the bench: mark(name) resolves once the bench has sampled /proc. */
function connect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const waiting = [];
    let buf = '';
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        buf = buf.slice(i + 1);
        waiting.shift()?.();
      }
    });
    sock.on('error', reject);
    sock.on('connect', () =>
      resolve({
        mark: (name, data = {}) =>
          new Promise((ok) => {
            waiting.push(ok);
            sock.write(JSON.stringify({ mark: name, ...data }) + '\n');
          }),
        close: () => sock.end(),
      }),
    );
  });
}

function cpuSplit(u0, u1) {
  return { userMs: round((u1.user - u0.user) / 1000, 1), systemMs: round((u1.system - u0.system) / 1000, 1) };
}

async function miniavCase(link) {
  const { screen, now } = await import('../../packages/node/dist/index.js');
  const tEnum = now();
  const displays = await screen.enumerateDisplays();
  const display = displays.find((d) => d.backend === 'gdi' && d.isDefault) ?? displays.find((d) => d.backend === 'gdi');
  if (!display) throw new Error(`no gdi display in ${JSON.stringify(displays)}`);
  const enumerateMs = (now() - tEnum) / 1000;
  const tOpen = now();
  const s = await screen.open(display.id, { frameRate: cfg.rate, pixelFormat: 'bgra' });
  const openMs = (now() - tOpen) / 1000;

  const gaps = new GapRecorder();
  const want = cfg.expectedPixel ?? null;
  let frames = 0;
  let firstFrameUs = -1;
  let firstCaptureUs = -1;
  let wrongSize = 0;
  let wrongPixel = 0;
  let copiedFrames = 0;
  let seqJumps = 0;
  let lastSeq = -1;
  let tStart = 0;
  s.on('frame', (f) => {
    const t = now();
    const v = f.video;
    const p = v.planes[0];
    touch(p.data, p.stride);
    if (v.width !== WIDTH || v.height !== HEIGHT || p.data.length < p.stride * HEIGHT) wrongSize++;
    const c = (HEIGHT / 2) * p.stride + (WIDTH / 2) * 4;
    if (want !== null && (p.data[c] !== (want & 0xff) || p.data[c + 1] !== ((want >> 8) & 0xff) || p.data[c + 2] !== want >> 16 || p.data[c + 3] !== 255))
      wrongPixel++;
    if (f.copied) copiedFrames++;
    if (lastSeq >= 0 && f.sequence !== lastSeq + 1) seqJumps += f.sequence - lastSeq - 1;
    lastSeq = f.sequence;
    if (firstFrameUs < 0) {
      firstFrameUs = t - tStart;
      firstCaptureUs = f.timestampUs - tStart; // when the capture thread started its BitBlt
    }
    gaps.mark(t);
    frames++;
    f.release();
  });
  s.on('error', (e) => process.stderr.write(`miniav stream error: ${e?.message ?? e}\n`));

  await link.mark('begin');
  const cpu0 = process.cpuUsage();
  tStart = now();
  await s.start();
  const startCallMs = (now() - tStart) / 1000;
  await sleep(cfg.seconds * 1000);
  await s.stop();
  const wallUs = now() - tStart;
  const cpu1 = process.cpuUsage();
  await link.mark('end');
  const stats = s.stats;
  await s.close();
  const selfMs = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / 1000;
  return {
    frames,
    wallUs,
    firstFrameMs: firstFrameUs >= 0 ? round(firstFrameUs / 1000, 2) : null,
    dropped: stats.dropped,
    gapP50Ms: round(gaps.percentileMs(50), 3),
    gapP99Ms: round(gaps.percentileMs(99), 3),
    gapMaxMs: round(gaps.maxMs(), 3),
    selfCpuMs: round(selfMs, 1),
    extra: {
      display: display.id,
      stats,
      sequenceJumps: seqJumps,
      shortfall: typeof cfg.rate === 'number' ? Math.max(0, Math.round((cfg.rate * wallUs) / 1e6) - frames) : null,
      enumerateMs: round(enumerateMs, 2),
      openMs: round(openMs, 2),
      startCallMs: round(startCallMs, 2),
      firstCaptureMs: firstCaptureUs >= 0 ? round(firstCaptureUs / 1000, 2) : null,
      copiesPerFrame: stats.delivered ? round(stats.copies / stats.delivered, 2) : null,
      copiedFrames,
      wrongSize,
      wrongPixel,
      selfCpu: cpuSplit(cpu0, cpu1),
    },
  };
}

export function ffmpegGdigrabArgs(rate) {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    // key=value progress on stderr (about every 0.5 s): frame, drop_frames, dup_frames.
    '-progress', 'pipe:2',
    '-f', 'gdigrab', '-framerate', String(rate === 'max' ? FFMPEG_MAX_RATE : rate), '-draw_mouse', '0', '-i', 'desktop',
    // Every grabbed frame once (ffmpeg 4.1 has no -fps_mode; -vsync passthrough is the same).
    '-vsync', 'passthrough',
    '-pix_fmt', 'bgra', '-f', 'rawvideo', 'pipe:1',
  ];
}

function ffmpegCase(link) {
  return new Promise((resolve, reject) => {
    const args = ffmpegGdigrabArgs(cfg.rate);
    const tSpawn = monoUs();
    const child = spawn(cfg.ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const frame = Buffer.allocUnsafe(FRAME_BYTES);
    let stderr = '';
    let progress = { drop_frames: 0, dup_frames: 0, frame: 0 };
    let state = 'waiting'; // waiting -> measuring -> draining
    let firstFrameUs = null;
    let frames = 0;
    let wrongPixel = 0;
    const want = cfg.expectedPixel ?? null;
    const centre = (HEIGHT / 2) * STRIDE + (WIDTH / 2) * 4;
    const gaps = new GapRecorder();
    let win = null;
    let result = null;

    const firstFrameTimer = setTimeout(() => {
      state = 'draining';
      child.kill();
      reject(new Error(`no frame within ${FIRST_FRAME_TIMEOUT_MS} ms: ${stderr.trim().slice(-500)}`));
    }, FIRST_FRAME_TIMEOUT_MS);

    function onWholeFrame() {
      const t = monoUs();
      touch(frame, STRIDE);
      if (want !== null && (frame[centre] !== (want & 0xff) || frame[centre + 1] !== ((want >> 8) & 0xff) || frame[centre + 2] !== want >> 16))
        wrongPixel++;
      if (state === 'waiting') {
        firstFrameUs = t - tSpawn;
        clearTimeout(firstFrameTimer);
        // From the first frame on, so process start-up is not billed per frame. The bench
        // samples /proc when this line arrives; not waited for, so no frame is missed.
        win = { t0: t, cpu0: process.cpuUsage(), progress0: { ...progress } };
        link.mark('begin', { pid: child.pid });
        state = 'measuring';
        gaps.mark(t);
        setTimeout(finishWindow, cfg.seconds * 1000);
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
        const m = /^(frame|drop_frames|dup_frames)=(\d+)$/.exec(line.trim());
        if (m) progress = { ...progress, [m[1]]: Number(m[2]) };
        else if (!/^\w+=/.test(line.trim())) stderr += line + '\n';
      }),
    );

    async function finishWindow() {
      const t1 = monoUs();
      const cpu1 = process.cpuUsage();
      state = 'draining';
      // ffmpeg.exe must still run while the bench reads its /proc.
      await link.mark('end');
      const wallUs = t1 - win.t0;
      const selfMs = (cpu1.user - win.cpu0.user + cpu1.system - win.cpu0.system) / 1000;
      result = {
        frames,
        wallUs,
        firstFrameMs: round(firstFrameUs / 1000, 2),
        // Frames ffmpeg itself discarded (-progress drop_frames; 0 with passthrough).
        // gdigrab does not count frames it grabbed late; see extra.shortfall.
        dropped: progress.drop_frames - win.progress0.drop_frames,
        gapP50Ms: round(gaps.percentileMs(50), 3),
        gapP99Ms: round(gaps.percentileMs(99), 3),
        gapMaxMs: round(gaps.maxMs(), 3),
        selfCpuMs: round(selfMs, 1),
        extra: {
          shortfall: typeof cfg.rate === 'number' ? Math.max(0, Math.round((cfg.rate * wallUs) / 1e6) - frames) : null,
          dupFrames: progress.dup_frames - win.progress0.dup_frames,
          wrongPixel,
          selfCpu: cpuSplit(win.cpu0, cpu1),
          // gdigrab BitBlts into its own DIB section and copies it into a packet (bmp
          // "decoder" copy), swscale bgr0->bgra, rawvideo encoder copy, WriteFile,
          // ReadFile into Node, re-assembly.
          command: `ffmpeg.exe ${args.join(' ')}`,
        },
      };
      child.kill();
    }

    child.on('error', (e) => {
      clearTimeout(firstFrameTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(firstFrameTimer);
      if (!result) reject(new Error(`ffmpeg.exe exited early (code ${code}, signal ${signal}): ${stderr.trim().slice(-500)}`));
      else resolve(result);
    });
  });
}

async function main() {
  const link = await connect(cfg.port);
  let out;
  try {
    const r = cfg.case === 'miniav' ? await miniavCase(link) : await ffmpegCase(link);
    out = { ok: true, ...r, fps: round(r.frames / (r.wallUs / 1e6), 2), wallS: round(r.wallUs / 1e6, 3), node: process.version };
  } catch (e) {
    out = { ok: false, error: e instanceof Error ? e.stack ?? e.message : String(e) };
  }
  writeFileSync(cfg.resultFile, JSON.stringify(out) + '\n');
  link.close();
  // Do not wait for stray handles (a killed ffmpeg.exe's pipes under Wine).
  setTimeout(() => process.exit(0), 200);
}

main();
