#!/usr/bin/env node
// Wayland portal screen and PipeWire camera benchmark: the portal rig's 1920x1080 screen
// (xdg-desktop-portal ScreenCast, BGRx, capped at 30 fps by the rig's xdpw max_fps) into
// JavaScript with MiniAV, next to `gst-launch-1.0 pipewiresrc` reading the same kind of source
// (its own ScreenCast session) into a fakesink and through a pipe into Node; then a fake
// PipeWire camera (320x240 and 640x480 YUY2 at 30 fps), MiniAV 'pipewire:<node>' vs
// `gst-launch-1.0 pipewiresrc target-object=<node>`.
// Usage: node bench/portal.mjs [--seconds N]
// Starts scripts/rigs/portal.sh itself (RIG_DIR=/tmp/miniav-bench-portal) and stops it at the
// end. Prints a table on stdout (progress on stderr), writes bench/out/portal-results.json.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './lib/measure.mjs';
import { formatTable, machineInfo } from './lib/report.mjs';
import { RIG_DIR, sourcesDiff, sourcesSnapshot, startPortalRig } from './lib/portal-rig.mjs';
import { measureMiniAVVideo } from './lib/portal-miniav.mjs';
import { gstArgs, gstMissing, measureGst } from './lib/portal-gst.mjs';
import { parseArgs, cleanupOnExit, killAll } from './lib/cli.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = join(BENCH_DIR, '..');
const OUT_DIR = join(BENCH_DIR, 'out');
const FAKE_CAMERA = process.env.MINIAV_BENCH_PW_FAKE_CAMERA ?? join(REPO_DIR, 'build/c-release/pw_fake_camera');
const WARMUP_S = 1;
const PAUSE_BETWEEN_CASES_MS = 700;
const CAMERA_SIZES = [
  [320, 240],
  [640, 480],
];

const children = new Set();
const gstPids = new Set();
let rig = null;

const USAGE = `node bench/portal.mjs [--seconds N]   (default 5 s per case, after ${WARMUP_S} s of warm-up)`;
const OPTIONS = { seconds: { default: 5, min: 0, max: 30 } };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cleanup() {
  killAll(children);
  for (const pid of gstPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rig?.stop();
  rig = null;
}

/** Starts pw_fake_camera on the rig's PipeWire; resolves once MiniAV lists its node. */
async function startFakeCamera(node) {
  const child = spawn(FAKE_CAMERA, [node], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('close', () => children.delete(child));
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`pw_fake_camera exited with ${code}`)));
  });
  const { camera } = await import('../packages/node/dist/index.js');
  const end = Date.now() + 10000;
  while (!(await camera.enumerateDevices()).some((d) => d.id === `pipewire:${node}`)) {
    if (Date.now() > end) throw new Error(`pipewire:${node} never listed`);
    await sleep(50);
  }
  return child;
}

/** The centre pixel is the rig's colour (BGRx). */
function screenContentOk(colour) {
  const rgb = parseInt(colour, 16);
  return (f) => {
    const { width, height, planes } = f.video;
    const { data, stride } = planes[0];
    const at = (height >> 1) * stride + (width >> 1) * 4;
    return data[at] === (rgb & 255) && data[at + 1] === ((rgb >> 8) & 255) && data[at + 2] === ((rgb >> 16) & 255);
  };
}

/** pw_fake_camera's frame n: every byte of row y but the stamp is (y * 3 + n * 7) & 0xff; a few rows checked. */
function cameraContentOk(f) {
  const { height, planes } = f.video;
  const { data, stride } = planes[0];
  const n = (data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24)) >>> 0;
  for (const y of [1, height >> 1, height - 1]) if (data[y * stride + 5] !== ((y * 3 + n * 7) & 0xff)) return false;
  return true;
}

// Source-side processes per row kind: what sends the frames, in no row's own CPU.
const SCREEN_SOURCES = ['sway', 'xdpw'];
const CAMERA_SOURCES = ['camera'];

/** ms per frame of a source-side process above its idle rate (raw values stay in row.sources). */
function aboveIdle(r, k) {
  if (!r.frames || r.sources?.[k] == null) return null;
  const idleMs = (r.idleMsPerS?.[k] ?? 0) * r.wallS;
  return round((r.sources[k] - idleMs) / r.frames, 2);
}

function sourceText(r) {
  if (!r.sources) return null;
  const keys = r.kind === 'camera' ? CAMERA_SOURCES : SCREEN_SOURCES;
  return keys.map((k) => `${k} ${aboveIdle(r, k) ?? '?'}`).join(' + ');
}

const COLUMNS = [
  ['case', (r) => r.name],
  ['frames', (r) => r.frames],
  ['fps', (r) => r.fps],
  ['CPU ms/frame', (r) => r.cpuMsPerFrame],
  ['split ms/frame', (r) => (r.parts ? Object.entries(r.parts).map(([k, v]) => `${k} ${v}`).join(' + ') : null)],
  ['CPU %', (r) => r.cpuPercent],
  ['sender ms/frame', sourceText],
  ['pipewire ms/frame', (r) => aboveIdle(r, 'pipewire')],
  ['gap p50 ms', (r) => r.gapP50Ms],
  ['gap p99 ms', (r) => r.gapP99Ms],
  ['first frame ms', (r) => r.firstFrameMs],
  ['dropped', (r) => r.dropped],
  ['other load %', (r) => r.otherLoadPercent],
];

/** Machine CPU in the window not spent by the row, its sender, or PipeWire: the noise. */
function addOtherLoad(row) {
  if (!row.sources || row.machineBusyMs == null) return;
  const keys = row.kind === 'camera' ? [...CAMERA_SOURCES, 'pipewire', 'wireplumber'] : [...SCREEN_SOURCES, 'pipewire', 'wireplumber', 'xdp'];
  const ours = row.ownCpuMs + keys.reduce((a, k) => a + (row.sources[k] ?? 0), 0);
  row.otherLoadPercent = round(((row.machineBusyMs - ours) * 100) / (row.wallS * 1000), 0);
  delete row.machineBusyMs;
  delete row.ownCpuMs;
}

/** CPU ms per second of this process, the rig's daemons and the rest of the machine, over 2 s without a stream. */
async function idleBaseline() {
  const a = { t: performance.now(), cpu: process.cpuUsage(), src: sourcesSnapshot() };
  await sleep(2000);
  const b = { t: performance.now(), cpu: process.cpuUsage(a.cpu), src: sourcesSnapshot() };
  const wallMs = b.t - a.t;
  const d = sourcesDiff(a.src, b.src);
  const selfMs = (b.cpu.user + b.cpu.system) / 1000;
  const oursMs = selfMs + Object.values(d.ms).reduce((x, v) => x + (v ?? 0), 0);
  const raw = Object.fromEntries(Object.entries(d.ms).map(([k, v]) => [k, v === null ? null : (v * 1000) / wallMs]));
  return {
    raw,
    rates: {
      benchProcess: round((selfMs * 1000) / wallMs, 1),
      ...Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, round(v, 1)])),
      otherLoadPercent: round(((d.machineBusyMs - oursMs) * 100) / wallMs, 0),
    },
  };
}

async function main() {
  const { seconds } = parseArgs(process.argv.slice(2), USAGE, OPTIONS);
  mkdirSync(OUT_DIR, { recursive: true });
  const machine = machineInfo();
  const t0 = performance.now();
  console.error(`MiniAV portal/PipeWire bench: ${seconds} s per case after ${WARMUP_S} s of warm-up, ${machine.cpus} CPUs, Node ${machine.node}`);
  console.error(`starting the portal rig (RIG_DIR=${RIG_DIR})`);
  rig = startPortalRig(REPO_DIR);
  const colour = process.env.MINIAV_RIG_PORTAL_COLOR;
  const [sw, sh] = process.env.MINIAV_RIG_PORTAL_SIZE.split('x').map(Number);
  const maxFps = Number(process.env.MINIAV_RIG_PORTAL_FPS);
  const gstScreenSkip = gstMissing({ portal: true });
  const gstCameraSkip = gstScreenSkip && gstMissing({ portal: false });
  const cameraSkip = existsSync(FAKE_CAMERA)
    ? null
    : `no ${FAKE_CAMERA}: cmake -S miniav_c -B build/c-release && cmake --build build/c-release (or MINIAV_BENCH_PW_FAKE_CAMERA=/path)`;
  const screenFrameBytes = sw * sh * 4;

  let camera = null;
  const cameraNode = `miniav_bench_camera_${process.pid}`;
  const cameraPids = () => ({ camera: camera?.pid ?? null });

  const cases = [
    {
      id: 'miniav-portal',
      kind: 'screen',
      name: `MiniAV portal:monitor ${sw}x${sh} bgrx -> JS`,
      run: () =>
        measureMiniAVVideo({ kind: 'screen', id: 'portal:monitor', options: { pixelFormat: 'bgrx' }, seconds, warmupS: WARMUP_S, contentOk: screenContentOk(colour) }),
    },
    {
      id: 'gst-portal-fakesink',
      kind: 'screen',
      name: 'gst pipewiresrc (portal fd) -> fakesink',
      run: () =>
        gstScreenSkip
          ? { skipped: gstScreenSkip }
          : measureGst({
              portal: true,
              mode: 'lines',
              gstArgs: gstArgs({ source: ['fd=@FD@', 'path=@NODE@'], caps: 'video/x-raw', mode: 'lines' }),
              seconds,
              warmupS: WARMUP_S,
              children,
              pids: gstPids,
            }),
    },
    {
      id: 'gst-portal-pipe',
      kind: 'screen',
      name: 'gst pipewiresrc (portal fd) -> fdsink -> pipe -> Node',
      run: () =>
        gstScreenSkip
          ? { skipped: gstScreenSkip }
          : measureGst({
              portal: true,
              mode: 'pipe',
              gstArgs: gstArgs({ source: ['fd=@FD@', 'path=@NODE@'], caps: `video/x-raw,format=BGRx,width=${sw},height=${sh}`, mode: 'pipe' }),
              frameBytes: screenFrameBytes,
              stride: sw * 4,
              seconds,
              warmupS: WARMUP_S,
              children,
              pids: gstPids,
            }),
    },
  ];
  for (const [w, h] of CAMERA_SIZES) {
    cases.push(
      {
        id: `miniav-camera-${w}x${h}`,
        kind: 'camera',
        name: `MiniAV pipewire:<camera> ${w}x${h} yuyv -> JS`,
        run: () =>
          cameraSkip
            ? { skipped: cameraSkip }
            : measureMiniAVVideo({
                kind: 'camera',
                id: `pipewire:${cameraNode}`,
                options: { width: w, height: h, pixelFormat: 'yuyv', frameRate: 30 },
                seconds,
                warmupS: WARMUP_S,
                contentOk: cameraContentOk,
                stamped: true,
                extraPids: cameraPids(),
              }),
      },
      {
        id: `gst-camera-${w}x${h}`,
        kind: 'camera',
        name: `gst pipewiresrc target-object=<camera> ${w}x${h} -> fakesink`,
        run: () =>
          cameraSkip
            ? { skipped: cameraSkip }
            : gstCameraSkip
              ? { skipped: gstCameraSkip }
              : measureGst({
                  portal: false,
                  mode: 'lines',
                  gstArgs: gstArgs({ source: [`target-object=${cameraNode}`], caps: `video/x-raw,format=YUY2,width=${w},height=${h}`, mode: 'lines' }),
                  seconds,
                  warmupS: WARMUP_S,
                  extraPids: cameraPids(),
                  children,
                  pids: gstPids,
                }),
      },
    );
  }

  // Idle baseline: what this process, the rig's daemons and the rest of the machine use with no
  // stream (the PipeWire daemon also drives the rig's paced microphone, 10 ms audio buffers).
  // Measured before and after the cases; the lower of the two per process is subtracted.
  await sleep(1000);
  const idleBefore = await idleBaseline();
  console.error(`idle baseline before (CPU ms per s, no stream): ${JSON.stringify(idleBefore.rates)}`);
  let idleAfter = null;
  const idleRates = { ...idleBefore.raw };

  const rows = [];
  let cameraError = null;
  for (const c of cases) {
    if (c.kind === 'camera' && !camera && !cameraSkip && !cameraError) {
      console.error(`starting ${FAKE_CAMERA} ${cameraNode}`);
      try {
        camera = await startFakeCamera(cameraNode);
      } catch (e) {
        cameraError = `the fake camera did not start: ${e.message}`;
      }
    }
    if (c.kind === 'camera' && cameraError) {
      rows.push({ id: c.id, name: c.name, kind: c.kind, error: cameraError });
      continue;
    }
    console.error(`running: ${c.name}`);
    let row;
    try {
      row = { id: c.id, name: c.name, kind: c.kind, ...(await c.run()) };
      addOtherLoad(row);
      if (row.sources) row.idleMsPerS = idleRates; // the object is completed after the last case
    } catch (e) {
      row = { id: c.id, name: c.name, kind: c.kind, error: e.message };
    }
    if (!row.skipped && !row.error) console.error(`  ${row.frames} frames, ${row.fps} fps, ${row.cpuMsPerFrame} ms/frame, other load ${row.otherLoadPercent} %`);
    rows.push(row);
    await sleep(PAUSE_BETWEEN_CASES_MS);
  }
  camera?.kill('SIGTERM');
  camera = null;
  await sleep(1000);
  idleAfter = await idleBaseline();
  console.error(`idle baseline after (CPU ms per s, no stream): ${JSON.stringify(idleAfter.rates)}`);
  for (const [k, v] of Object.entries(idleAfter.raw)) if (v !== null && (idleRates[k] == null || v < idleRates[k])) idleRates[k] = v;
  for (const r of rows) {
    if (r.sources) r.aboveIdleMsPerFrame = Object.fromEntries(Object.keys(r.sources).map((k) => [k, aboveIdle(r, k)]));
  }

  const results = {
    date: new Date().toISOString(),
    machine,
    settings: {
      seconds,
      warmupS: WARMUP_S,
      rigDir: RIG_DIR,
      screen: { size: `${sw}x${sh}`, pixelFormat: 'bgrx', colour, portalMaxFps: maxFps },
      camera: { sizes: CAMERA_SIZES.map(([w, h]) => `${w}x${h}`), pixelFormat: 'yuyv (YUY2)', fps: 30, binary: FAKE_CAMERA },
      totalWallS: round((performance.now() - t0) / 1000, 1),
    },
    idleBaseline: { before: idleBefore.rates, after: idleAfter.rates, subtractedMsPerS: Object.fromEntries(Object.entries(idleRates).map(([k, v]) => [k, round(v, 1)])) },
    cases: rows,
  };
  writeFileSync(join(OUT_DIR, 'portal-results.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(formatTable(rows, COLUMNS));
  console.log(
    `\nWindow: ${seconds} s from ${WARMUP_S} s after the first frame. The rig's portal sends at most ${maxFps} fps (xdpw max_fps). ` +
      'CPU ms/frame: MiniAV = the bench process, all threads; gst -> fakesink = gst-launch-1.0 only; gst -> pipe = gst-launch-1.0 + the Node reader. ' +
      'sender ms/frame: the compositor (sway) and xdg-desktop-portal-wlr, which copy every screen frame, or pw_fake_camera (fills every frame); ' +
      'pipewire: the PipeWire daemon; both above their idle rate (below), raw values in the JSON (sources). Neither is in CPU ms/frame. other load %: the rest of the machine in the window (100 = one core).',
  );
  console.log(
    `idle baseline, no stream (CPU ms per second, before / after the cases): bench process ${idleBefore.rates.benchProcess} / ${idleAfter.rates.benchProcess}, ` +
      `sway ${idleBefore.rates.sway} / ${idleAfter.rates.sway}, xdpw ${idleBefore.rates.xdpw} / ${idleAfter.rates.xdpw}, ` +
      `pipewire ${idleBefore.rates.pipewire} / ${idleAfter.rates.pipewire} (it also drives the rig's paced microphone), ` +
      `other load ${idleBefore.rates.otherLoadPercent} / ${idleAfter.rates.otherLoadPercent} %. The lower rate per process is what "above idle" subtracts.`,
  );
  console.log(
    'first frame: MiniAV from calling open(); gst rows from spawning (for the portal rows the python helper: start-up, D-Bus session, then gst start-up). ' +
      'dropped: MiniAV stats.dropped + frame.sequence jumps (+ jumps of the camera\'s own frame number in the pixels); gst: not counted (-).',
  );
  console.error(`\nwhole run ${results.settings.totalWallS} s; wrote ${join(OUT_DIR, 'portal-results.json')}`);
}

cleanupOnExit(cleanup);

main()
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  })
  .finally(() => {
    cleanup();
    // The addon's PipeWire/D-Bus threads may keep the loop alive after the last stream closed.
    setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
  });
