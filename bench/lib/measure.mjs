// Small helpers shared by every benchmark case: the per-frame "touch", gap
// statistics and CPU accounting for child processes.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const WIDTH = 1920;
export const HEIGHT = 1080;
export const BYTES_PER_PIXEL = 4; // BGRA
export const FRAME_BYTES = WIDTH * HEIGHT * BYTES_PER_PIXEL; // 8,294,400

// Written by touch() so the reads cannot be optimised away.
export let touchSink = 0;

/**
 * Reads what a cheap real consumer would: the sequence number the test
 * pattern stores little-endian in bytes 0-3, plus one byte per row, so every
 * row's memory is really faulted in without turning the bench into a memcpy test.
 * Returns the sequence number from the pixels.
 */
export function touch(data, stride) {
  const seq = (data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24)) >>> 0;
  let sum = 0;
  for (let off = stride - 1; off < data.length; off += stride) sum += data[off];
  touchSink = (touchSink + sum) | 0;
  return seq;
}

/** Collects the time between consecutive frames as the consumer saw them. */
/** Nearest-rank percentile of numbers sorted ascending, or null when there are none. */
export function percentileOfSorted(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export class GapRecorder {
  #last = -1;
  #gaps = [];

  /** @param {number} tUs arrival time in microseconds */
  mark(tUs) {
    if (this.#last >= 0) this.#gaps.push(tUs - this.#last);
    this.#last = tUs;
  }

  /** Nearest-rank percentile in milliseconds, or null without gaps. */
  percentileMs(p) {
    if (this.#gaps.length === 0) return null;
    return percentileOfSorted(Float64Array.from(this.#gaps).sort(), p) / 1000;
  }

  /** The gaps so far, in microseconds (a copy: rounds of a case are pooled from these). */
  gapsUs() {
    return [...this.#gaps];
  }

  /** The longest gap in milliseconds, or null without gaps. */
  maxMs() {
    if (this.#gaps.length === 0) return null;
    let max = 0;
    for (const g of this.#gaps) if (g > max) max = g;
    return max / 1000;
  }
}

/** Microseconds on a monotonic clock; used where the MiniAV clock is not needed. */
export function monoUs() {
  return performance.now() * 1000;
}

/** Total user+system CPU of this process in milliseconds, from process.cpuUsage(). */
export function selfCpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

let clockTicks = 0;
function ticksPerSecond() {
  if (clockTicks) return clockTicks;
  try {
    clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    clockTicks = 100; // the Linux default
  }
  return clockTicks;
}

/**
 * utime+stime of another live process in milliseconds, from /proc/<pid>/stat.
 * Read while the child still runs: once it is reaped the numbers are gone.
 * Resolution is one clock tick (10 ms), fine over a multi-second window.
 */
export function procCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14 overall
  const stime = Number(fields[12]); // field 15 overall
  return ((utime + stime) * 1000) / ticksPerSecond();
}

/** Rounds for the table and JSON without hiding small values. */
/**
 * 95 % bootstrap interval of percentile(a) - percentile(b), in the samples' unit: each
 * side resampled with replacement `resamples` times (a fixed seed, so a run's verdict is
 * repeatable). A tail percentile such as p99 of a few thousand samples rests on its few
 * dozen largest values; this says how far two such numbers may differ by chance alone.
 */
export function bootstrapPercentileDiff(a, b, p, resamples = 2000) {
  let seed = 0x9e3779b9;
  const random = () => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pct = (sorted) => percentileOfSorted(sorted, p);
  const resample = (x) => {
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[Math.floor(random() * x.length)];
    return out.sort();
  };
  const diffs = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) diffs[i] = pct(resample(a)) - pct(resample(b));
  diffs.sort();
  return {
    diff: pct(Float64Array.from(a).sort()) - pct(Float64Array.from(b).sort()),
    low: diffs[Math.floor(0.025 * resamples)],
    high: diffs[Math.ceil(0.975 * resamples) - 1],
  };
}

export function round(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
