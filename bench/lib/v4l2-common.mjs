// Shared by the V4L2 benchmark (bench/v4l2.mjs) and its cases, which run inside the
// vivid VM (scripts/rigs/vivid-vm.sh): the two formats measured, percentiles, the
// steady-state window, and per-thread CPU.
import { readdirSync, readFileSync } from 'node:fs';
import { percentileOfSorted, procCpuMs, round } from './measure.mjs';

export const DEVICE = process.env.MINIAV_BENCH_V4L2_DEVICE ?? '/dev/video0';
export const MINIAV_DEVICE_ID = process.env.MINIAV_BENCH_V4L2_ID ?? 'v4l2:platform:vivid-000';

/** Frames from the first WARMUP_S seconds after the first frame are left out of the steady numbers. */
export const WARMUP_S = 1;

/**
 * The formats measured. vivid lists 640x360 YUYV up to 40 fps and 1280x720 only up
 * to 12.5 fps (25/2; `v4l2-ctl --list-formats-ext` in the VM), so 1280x720 runs at
 * vivid's maximum for that size.
 */
export const FORMATS = [
  { id: '640x360', width: 640, height: 360, rate: { num: 30, den: 1 } },
  { id: '1280x720', width: 1280, height: 720, rate: { num: 25, den: 2 } },
];

export const rateValue = (r) => r.num / r.den;
/** "30" or "12.5": what ffmpeg's -framerate and v4l2-ctl's -p take. */
export const rateText = (r) => String(round(rateValue(r), 3));
export const frameBytes = (f) => f.width * f.height * 2; // YUYV: 2 bytes per pixel

/** Nearest-rank percentile of an array of numbers, or null when empty. */
export function percentile(values, p) {
  return percentileOfSorted(Float64Array.from(values).sort(), p);
}

export function maxOf(values) {
  return values.length === 0 ? null : values.reduce((a, b) => (b > a ? b : a), -Infinity);
}

/** p50 / p99 / max of microsecond samples, in ms. */
export function msStats(valuesUs) {
  return {
    p50: round(percentile(valuesUs, 50) / 1000, 3),
    p99: round(percentile(valuesUs, 99) / 1000, 3),
    max: round(maxOf(valuesUs) / 1000, 3),
  };
}

/** CLOCK_MONOTONIC in microseconds (libuv's hrtime), the clock of the driver's trace and of MiniAV's now(). */
export function monoClockUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * On-CPU time of one task in ms from /proc/<path>/schedstat (the scheduler's own
 * nanosecond count), or from /proc/<path>/stat (10 ms ticks) where schedstat is missing.
 * @param {string} path "<pid>", "self/task/<tid>", "<pid>/task/<tid>"
 */
export function taskCpuMs(path) {
  try {
    return Number(readFileSync(`/proc/${path}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return procCpuMs(path);
  }
}

/**
 * On-CPU ms of a whole process: the sum over its live threads' schedstat (precise),
 * and utime+stime from /proc/<pid>/stat (10 ms ticks, but it keeps the time of threads
 * that have exited). The larger is returned; both are kept for the record.
 */
export function processCpuMs(pid) {
  let sched = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      sched += taskCpuMs(`${pid}/task/${tid}`);
    } catch {
      /* ended meanwhile */
    }
  }
  const stat = procCpuMs(pid);
  return stat > sched + 10 ? stat : sched;
}

/**
 * CPU ms of each thread of this process (schedstat), keyed "<name>:<tid>" ("main" for
 * the JavaScript thread).
 */
export function threadCpu() {
  const out = {};
  for (const tid of readdirSync('/proc/self/task')) {
    let stat;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === process.pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out[`${name}:${tid}`] = taskCpuMs(`self/task/${tid}`);
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

/**
 * CPU ms per thread between two threadCpu() samples, threads that used >= 1 ms only;
 * threads absent from `baseline` (started after it) are marked "(new)".
 */
export function threadDiff(before, after, baseline = before) {
  const out = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d >= 1) out[k in baseline ? k : `${k} (new)`] = round(d, 1);
  }
  return out;
}

/**
 * CPU ms of vivid's capture kernel thread ("vivid-000-vid-cap", created at STREAMON), or
 * null when none runs. It draws every frame; no process's CPU time includes it.
 */
export function vividThreadCpuMs() {
  let total = null;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let comm;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (/^vivid-\d+-vid-c/.test(comm)) total = (total ?? 0) + taskCpuMs(pid);
  }
  return total;
}
