#!/usr/bin/env node
// MiniAV throughput benchmark: 1920x1080 BGRA test-pattern frames, as fast as
// possible, into JavaScript, next to the ways people do it without MiniAV and
// next to the raw C limit. Usage: node bench/run.mjs [--seconds N]
// Prints a table and writes bench/out/results.json.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureMiniAV } from './lib/miniav-case.mjs';
import { measurePipe } from './lib/pipe-case.mjs';
import { WIDTH, HEIGHT } from './lib/measure.mjs';
import { formatTable, machineInfo } from './lib/report.mjs';
import { parseArgs, killAll, cleanupOnExit } from './lib/cli.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = join(BENCH_DIR, '..');
const OUT_DIR = join(BENCH_DIR, 'out');
const C_BUILD_DIR = join(OUT_DIR, 'build-c');
const C_BENCH = join(C_BUILD_DIR, 'bench_test_pattern');
const FFMPEG = process.env.FFMPEG ?? '/usr/bin/ffmpeg';
const PAUSE_BETWEEN_CASES_MS = 500;
// Slack on top of the measured seconds before a child is considered hung.
const CHILD_SLACK_MS = 20000;

/** Every child we start, so none outlives the run (killed at exit: cleanupOnExit below). */
const children = new Set();

const USAGE = 'node bench/run.mjs [--seconds N]';
const OPTIONS = { seconds: { default: 5, min: 0, max: 60 } };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a child to completion with a hard time limit; resolves with its stdout. */
function runChild(command, args, { env, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} failed (code ${code}, signal ${signal}): ${stderr.trim().slice(-500)}`));
    });
  });
}

function lastJsonLine(text) {
  const line = text.trim().split('\n').pop();
  return JSON.parse(line);
}

/** The last line of a child's stdout is its result row. */
async function forcedCopyCase(seconds) {
  const out = await runChild(process.execPath, [join(BENCH_DIR, 'miniav-child.mjs'), String(seconds)], {
    env: { MINIAV_FORCE_COPY: '1' },
    timeoutMs: seconds * 1000 + CHILD_SLACK_MS,
  });
  return lastJsonLine(out);
}

function pipeCase(seconds) {
  return measurePipe({
    command: process.execPath,
    args: [join(BENCH_DIR, 'pipe-child.mjs')],
    seconds,
    sequenceInPixels: true,
    // write() into the pipe, kernel -> Node's read buffer, re-assembly into a frame.
    copiesPerFrame: 3,
    children,
  });
}

async function ffmpegCase(seconds) {
  if (!existsSync(FFMPEG)) return { skipped: `ffmpeg not found at ${FFMPEG} (set FFMPEG=/path/to/ffmpeg)` };
  return measurePipe({
    command: FFMPEG,
    args: [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-f', 'lavfi', '-i', `testsrc2=size=${WIDTH}x${HEIGHT}:rate=1000`,
      '-pix_fmt', 'bgra', '-f', 'rawvideo', 'pipe:1',
    ],
    seconds,
    sequenceInPixels: false,
    // rawvideo encoder copies the frame into a packet, write() into the pipe,
    // kernel -> Node's read buffer, re-assembly into a frame.
    copiesPerFrame: 4,
    children,
  });
}

/** Builds only the C bench binary into bench/out/build-c when it is missing. */
function ensureCBench() {
  if (existsSync(C_BENCH)) return null;
  const started = Date.now();
  const opts = { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 };
  try {
    execFileSync('cmake', ['-S', 'miniav_c', '-B', C_BUILD_DIR, '-DCMAKE_BUILD_TYPE=Release'], opts);
    execFileSync('cmake', ['--build', C_BUILD_DIR, '-j2', '--target', 'bench_test_pattern'], opts);
  } catch (e) {
    return `could not build ${C_BENCH}: ${String(e.stderr ?? e.message).trim().slice(-500)}`;
  }
  console.error(`built ${C_BENCH} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return null;
}

async function cLimitCase(seconds) {
  const buildError = ensureCBench();
  if (buildError) return { skipped: buildError };
  const out = await runChild(C_BENCH, [String(WIDTH), String(HEIGHT), String(seconds), 'bgra'], {
    timeoutMs: seconds * 1000 + CHILD_SLACK_MS,
  });
  const r = lastJsonLine(out);
  return {
    fps: r.fps,
    cpuMsPerFrame: r.cpuMsPerFrame,
    cpuPercent: r.frames ? Math.round((r.cpuMsPerFrame * r.fps) / 10) : null,
    copiesPerFrame: r.copiesPerFrame,
    dropped: r.dropped,
    gapP50Ms: null,
    gapP99Ms: null,
    firstFrameMs: null,
    frames: r.frames,
    wallS: seconds,
  };
}

const CASES = [
  { id: 'miniav-zero-copy', name: 'MiniAV zero-copy (in-process)', run: (s) => measureMiniAV(s) },
  { id: 'miniav-forced-copy', name: 'MiniAV forced copy (MINIAV_FORCE_COPY=1)', run: forcedCopyCase },
  { id: 'pipe-node-child', name: 'Node child -> stdout pipe -> Node', run: pipeCase },
  { id: 'pipe-ffmpeg', name: 'ffmpeg testsrc2 -> pipe -> Node', run: ffmpegCase },
  { id: 'c-limit', name: 'C limit (bench_test_pattern)', run: cLimitCase },
];

const COLUMNS = [
  ['case', (r) => r.name],
  ['fps', (r) => r.fps],
  ['CPU ms/frame', (r) => r.cpuMsPerFrame],
  ['CPU %', (r) => r.cpuPercent],
  ['copies/frame', (r) => r.copiesPerFrame],
  ['dropped', (r) => r.dropped],
  ['gap p50 ms', (r) => r.gapP50Ms],
  ['gap p99 ms', (r) => r.gapP99Ms],
  ['first frame ms', (r) => r.firstFrameMs],
];


async function main() {
  const { seconds } = parseArgs(process.argv.slice(2), USAGE, OPTIONS);
  mkdirSync(OUT_DIR, { recursive: true });
  const machine = machineInfo();
  console.error(`MiniAV bench: ${WIDTH}x${HEIGHT} BGRA, ${seconds} s per case, ${machine.cpus} CPUs, Node ${machine.node}`);

  const rows = [];
  for (const c of CASES) {
    console.error(`running: ${c.name}`);
    let row;
    try {
      row = { id: c.id, name: c.name, ...(await c.run(seconds)) };
    } catch (e) {
      row = { id: c.id, name: c.name, error: e.message };
    }
    rows.push(row);
    // Let the previous case's children and buffers go before the next one.
    await sleep(PAUSE_BETWEEN_CASES_MS);
  }

  const results = { date: new Date().toISOString(), machine, settings: { width: WIDTH, height: HEIGHT, pixelFormat: 'bgra', seconds }, cases: rows };
  writeFileSync(join(OUT_DIR, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(formatTable(rows, COLUMNS));
  console.error(`\nwrote ${join(OUT_DIR, 'results.json')}`);
}

cleanupOnExit(() => killAll(children));

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
