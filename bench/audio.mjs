#!/usr/bin/env node
// Audio input benchmark: the rig's paced microphone (PulseAudio source miniav_mic, a
// 660 Hz sine) at 48 kHz stereo s16 in 10 ms buffers into JavaScript, MiniAV next to
// the two ways Node programs record audio today: parec and ffmpeg -f pulse piped in.
// Usage: node bench/audio.mjs [--seconds N] [--rounds N] [--soak SECONDS]
// MiniAV and parec run in --rounds alternating rounds (default 3: M P, P M, M P) and each
// is judged on all its rounds pooled: a p99 from ~1,000 gaps is the 10th-longest gap and
// moves by more between two runs of the same thing than MiniAV and parec differ.
// Uses PULSE_SERVER when set; otherwise starts the PulseAudio rig (scripts/rigs/pulse.sh,
// RIG_DIR=/tmp/miniav-bench-pulse) and stops it at the end.
// --soak S: MiniAV only, for S seconds (e.g. 300), reporting lost samples.
// Prints a table and the targets, and writes bench/out/audio-results.json
// (bench/out/audio-soak-results.json for --soak).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePulseServer, serverName } from './lib/audio-rig.mjs';
import { measureMiniAVAudio, BUFFER_FRAMES, CHANNELS, RATE } from './lib/audio-miniav.mjs';
import { measurePipeAudio } from './lib/audio-pipe.mjs';
import { formatTable, machineInfo } from './lib/report.mjs';
import { bootstrapPercentileDiff, percentileOfSorted, round } from './lib/measure.mjs';
import { parseArgs, cleanupOnExit, killAll } from './lib/cli.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = join(BENCH_DIR, '..');
const OUT_DIR = join(BENCH_DIR, 'out');
const FFMPEG = process.env.FFMPEG ?? '/usr/bin/ffmpeg';
const PAREC = process.env.PAREC ?? 'parec';
const PAUSE_BETWEEN_CASES_MS = 500;
const FIRST_SAMPLE_MAX_MS = 30; // MiniAV: first sample in the handler <= 30 ms after start()
// The p99 comparison needs enough gaps on each side to say anything: with fewer (short
// --seconds or --rounds) its interval is so wide that "not measurably worse" means little.
const MIN_GAPS_FOR_P99 = 2500;

const children = new Set();
let rig = null;

const USAGE = 'node bench/audio.mjs [--seconds N] [--rounds N] [--soak SECONDS]   (default 10 s per case, 3 rounds; --soak: MiniAV only)';
const OPTIONS = {
  seconds: { default: 10, min: 0, max: 60 },
  rounds: { default: 3, min: 0, max: 10 },
  soak: { default: 0, min: 0, max: 3600, minIncluded: true },
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const progress = (s) => process.stderr.write(`${s}\n`);

function cleanup() {
  killAll(children);
  rig?.stop();
}
cleanupOnExit(cleanup);

async function runCase(name, id, fn) {
  progress(`# ${name} ...`);
  try {
    return { name, id, ...(await fn()) };
  } catch (e) {
    progress(`  failed: ${e?.stack ?? e}`);
    return { name, id, error: String(e?.message ?? e) };
  }
}

/** Nearest-rank percentile (ms) of gaps in microseconds, sorted. */
function percentileMs(sortedUs, p) {
  return sortedUs.length ? percentileOfSorted(sortedUs, p) / 1000 : null;
}

/**
 * One row for a case from its rounds: gaps pooled, CPU over all windows, the worst first
 * data, lost samples summed; each round's own p99 and CPU kept under `rounds`.
 */
function poolRounds(name, id, rounds) {
  const good = rounds.filter((r) => !r.error);
  if (!good.length) return { name, id, error: rounds.map((r) => r.error).join('; ') };
  const gaps = Float64Array.from(good.flatMap((r) => r.gapsUs)).sort();
  const wallS = good.reduce((a, r) => a + r.wallS, 0);
  const sum = (k) => (good.every((r) => r[k] !== null && r[k] !== undefined) ? good.reduce((a, r) => a + r[k], 0) : null);
  const maxAbs = (k) => (good.every((r) => r[k] !== null && r[k] !== undefined) ? good.reduce((a, r) => (Math.abs(r[k]) > Math.abs(a) ? r[k] : a), 0) : null);
  const weighted = (get) => round(good.reduce((a, r) => a + get(r) * r.wallS, 0) / wallS, 2);
  const extra = { ...good[0].extra };
  if (extra.childCpuPercent !== undefined) {
    extra.childCpuPercent = weighted((r) => r.extra.childCpuPercent);
    extra.readerCpuPercent = weighted((r) => r.extra.readerCpuPercent);
  }
  if (extra.serverCpuPercent !== null && extra.serverCpuPercent !== undefined) extra.serverCpuPercent = weighted((r) => r.extra.serverCpuPercent);
  return {
    name,
    id,
    buffers: sum('buffers'),
    gapP50Ms: round(percentileMs(gaps, 50), 3),
    gapP99Ms: round(percentileMs(gaps, 99), 3),
    gapMaxMs: round(percentileMs(gaps, 100), 3),
    cpuPercent: weighted((r) => r.cpuPercent),
    firstDataMs: Math.max(...good.map((r) => r.firstDataMs)),
    lostBuffers: sum('lostBuffers'),
    sineBreaks: sum('sineBreaks'),
    tsMaxDevUs: good.every((r) => r.tsMaxDevUs !== null) ? Math.max(...good.map((r) => r.tsMaxDevUs)) : null,
    driftPpm: maxAbs('driftPpm'),
    wallS: round(wallS, 2),
    gapsUs: Array.from(gaps),
    extra,
    rounds: rounds.map((r) => (r.error ? { error: r.error } : { gapP99Ms: r.gapP99Ms, cpuPercent: r.cpuPercent, firstDataMs: r.firstDataMs, buffers: r.buffers, extra: r.extra })),
  };
}

const withoutGaps = ({ gapsUs, ...rest }) => rest;

const fmt = (v) => (v === null || v === undefined ? '-' : String(v));
const COLUMNS = [
  ['case', (r) => r.name],
  ['reads', (r) => r.buffers],
  ['gap p50 ms', (r) => r.gapP50Ms],
  ['gap p99 ms', (r) => r.gapP99Ms],
  ['gap max ms', (r) => r.gapMaxMs],
  ['CPU %', (r) => r.cpuPercent],
  ['first data ms', (r) => r.firstDataMs],
  ['lost buffers', (r) => fmt(r.lostBuffers)],
  ['sine breaks', (r) => r.sineBreaks],
  ['ts dev us', (r) => fmt(r.tsMaxDevUs)],
  ['drift ppm', (r) => fmt(r.driftPpm)],
];

async function main() {
  const { seconds, soak, rounds: roundsWanted } = parseArgs(process.argv.slice(2), USAGE, OPTIONS);
  rig = ensurePulseServer(REPO_DIR);
  const server = serverName();
  progress(`# server: ${server} at ${rig.server}${rig.startedRig ? ' (rig started for this run)' : ''}; source ${rig.mic}`);
  const common = { mic: rig.mic, micHz: rig.micHz, serverPid: rig.serverPid, progress };

  if (soak) {
    const row = withoutGaps(await runCase(`MiniAV soak ${soak} s`, 'miniav-soak', () => measureMiniAVAudio({ ...common, seconds: soak })));
    console.log(formatTable([row], COLUMNS));
    const lost = row.error ? null : row.lostBuffers;
    console.log(
      row.error
        ? 'soak: FAILED'
        : `\nsoak: ${row.buffers} buffers in ${row.wallS} s; lost buffers ${lost} (stats.dropped ${row.extra.statsBeforeStop.dropped}, sequence gaps ${row.extra.sequenceGaps}); sine breaks ${row.sineBreaks}; ` +
            `samples ${row.extra.frames} of ~${row.extra.framesExpected} expected; drift vs clock ${row.extra.driftMs} ms (${row.driftPpm} ppm) -> ${lost === 0 && row.sineBreaks === 0 ? 'no lost samples' : 'SAMPLES LOST'}`,
    );
    mkdirSync(OUT_DIR, { recursive: true });
    writeFileSync(join(OUT_DIR, 'audio-soak-results.json'), JSON.stringify({ date: new Date().toISOString(), machine: machineInfo(), server, soakSeconds: soak, rows: [row] }, null, 2));
    return;
  }

  const parecArgs = [`--device=${rig.mic}`, '--format=s16le', `--rate=${RATE}`, `--channels=${CHANNELS}`, '--latency-msec=10', '--raw'];
  const runMiniAV = () => runCase('MiniAV -> JS', 'miniav', () => measureMiniAVAudio({ ...common, seconds }));
  const runParec = () => runCase('parec -> pipe -> JS', 'parec', () => measurePipeAudio({ ...common, command: PAREC, args: parecArgs, seconds, children }));
  const miniavRounds = [];
  const parecRounds = [];
  const roundCount = Math.ceil(roundsWanted);
  for (let i = 0; i < roundCount; i++) {
    // Alternate which goes first, so a slow drift of the machine favours neither.
    const order = i % 2 === 0 ? [[runMiniAV, miniavRounds], [runParec, parecRounds]] : [[runParec, parecRounds], [runMiniAV, miniavRounds]];
    for (const [run, into] of order) {
      progress(`# round ${i + 1} of ${roundCount}`);
      into.push(await run());
      await sleep(PAUSE_BETWEEN_CASES_MS);
    }
  }
  const rows = [poolRounds('MiniAV -> JS', 'miniav', miniavRounds), poolRounds('parec -> pipe -> JS', 'parec', parecRounds)];
  const ffArgs = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'pulse', '-fragment_size', String(BUFFER_FRAMES * CHANNELS * 2), '-i', rig.mic,
    '-f', 's16le', '-ac', String(CHANNELS), '-ar', String(RATE), 'pipe:1'];
  rows.push(withoutGaps(await runCase('ffmpeg -f pulse -> pipe -> JS', 'ffmpeg', () => measurePipeAudio({ ...common, command: FFMPEG, args: ffArgs, seconds, children }))));

  console.log(formatTable(rows, COLUMNS));
  console.log(
    `\nMiniAV and parec: ${roundCount} rounds of ${seconds} s each, pooled (ffmpeg: one round). Per round, p99 gap ms / CPU %:\n` +
      rows
        .filter((r) => r.rounds)
        .map((r) => `${r.name}: ${r.rounds.map((x) => (x.error ? 'failed' : `${x.gapP99Ms} / ${x.cpuPercent}`)).join(', ')}`)
        .join('\n'),
  );
  const split = rows
    .filter((r) => !r.error && r.extra)
    .map((r) => `${r.name}: ${r.extra.childCpuPercent !== undefined ? `child ${r.extra.childCpuPercent} % + reader ${r.extra.readerCpuPercent} %` : `bench process ${r.cpuPercent} %`}` +
      (r.extra.serverCpuPercent !== null && r.extra.serverCpuPercent !== undefined ? `; server ${r.extra.serverCpuPercent} %` : ''))
    .join('\n');
  console.log(`\nCPU split (100 % = one core):\n${split}`);

  const [m, p] = [rows.find((r) => r.id === 'miniav'), rows.find((r) => r.id === 'parec')];
  const ok = (r) => r && !r.error;
  const targets = [];
  if (ok(m) && ok(p)) {
    // "No worse" = not measurably worse: the two p99s differ by tens of microseconds either
    // way between runs of the same thing, so a bare comparison would flip a coin.
    const ci = bootstrapPercentileDiff(m.gapsUs, p.gapsUs, 99);
    const us = (x) => `${x >= 0 ? '+' : ''}${round(x, 0)} µs`;
    const enough = m.gapsUs.length >= MIN_GAPS_FOR_P99 && p.gapsUs.length >= MIN_GAPS_FOR_P99;
    targets.push({
      target: 'p99 gap no worse than parec (not measurably worse: 95 % bootstrap interval of the difference reaches 0 or below)',
      met: enough ? ci.low <= 0 : null,
      detail:
        `MiniAV ${m.gapP99Ms} ms vs parec ${p.gapP99Ms} ms: difference ${us(ci.diff)}, 95 % interval ${us(ci.low)} to ${us(ci.high)}` +
        (ci.low > 0 ? ' (MiniAV measurably worse)' : ci.high < 0 ? ' (MiniAV measurably better)' : ' (no measurable difference)') +
        (enough ? '' : `; not judged: fewer than ${MIN_GAPS_FOR_P99} gaps a side (run the defaults: 3 rounds of 10 s)`),
      values: { diffUs: round(ci.diff, 1), lowUs: round(ci.low, 1), highUs: round(ci.high, 1) },
    });
    targets.push({ target: `first sample <= ${FIRST_SAMPLE_MAX_MS} ms after start()`, met: m.firstDataMs <= FIRST_SAMPLE_MAX_MS, detail: `${m.firstDataMs} ms` });
    targets.push({ target: 'CPU no more than parec + its reader', met: m.cpuPercent <= p.cpuPercent, detail: `MiniAV ${m.cpuPercent} % vs parec+reader ${p.cpuPercent} %` });
    targets.push({
      target: 'no lost samples',
      met: m.lostBuffers === 0 && m.sineBreaks === 0,
      detail: `lost buffers ${m.lostBuffers} (dropped ${m.extra.statsBeforeStop.dropped}, sequence gaps ${m.extra.sequenceGaps}), sine breaks ${m.sineBreaks}, drift ${m.driftPpm} ppm`,
    });
  } else targets.push({ target: 'all', met: false, detail: 'a row failed' });
  console.log('\nTargets:');
  for (const t of targets) console.log(`  [${t.met === null ? 'not judged' : t.met ? 'met' : 'NOT met'}] ${t.target}: ${t.detail}`);

  mkdirSync(OUT_DIR, { recursive: true });
  const out = join(OUT_DIR, 'audio-results.json');
  writeFileSync(
    out,
    JSON.stringify({ date: new Date().toISOString(), machine: machineInfo(), server, source: rig.mic, seconds, rounds: roundCount, format: { rate: RATE, channels: CHANNELS, sampleFormat: 's16', bufferFrames: BUFFER_FRAMES }, rows: rows.map(withoutGaps), targets }, null, 2),
  );
  progress(`# wrote ${out}`);
}

main()
  .catch((e) => {
    progress(e?.stack ?? String(e));
    process.exitCode = 1;
  })
  .finally(() => cleanup());
