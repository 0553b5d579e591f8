// When each frame left the driver, from the kernel's own trace events (tracefs, run as
// root inside the vivid VM), so the latency to the consumer can be measured the same way
// for MiniAV, ffmpeg and v4l2-ctl.
//
// Why not the buffer timestamps: vivid stamps each buffer with a computed time, stream
// start + (sequence + 0.9) x frame period for its default "End of Frame" source, which is
// most of a frame period *after* the buffer is handed over (27 ms ahead at 30 fps in this
// VM). MiniAV only takes a driver timestamp that is not in the future, so with vivid
// frame.timestampUs is MiniAV's dequeue time instead.
//
// Events used (trace_clock "mono" = CLOCK_MONOTONIC, the clock of MiniAV's now() and of
// process.hrtime()):
//   vb2:vb2_buf_done  the driver hands buffer <index> back (vivid's kthread, after drawing it)
//   v4l2:v4l2_dqbuf   a process dequeues buffer <index>: sequence, timestamp, who
// A frame's "done" time is the last vb2_buf_done of its index before its v4l2_dqbuf.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { percentile, maxOf } from './v4l2-common.mjs';
import { round } from './measure.mjs';

const DIR = '/sys/kernel/tracing';
const EVENTS = ['vb2/vb2_buf_done', 'v4l2/v4l2_dqbuf'];

export class DriverTrace {
  /** Sets the trace up; returns a DriverTrace, or { error } where tracefs is not usable. */
  static open() {
    try {
      if (!existsSync(`${DIR}/trace`)) execFileSync('mount', ['-t', 'tracefs', 'nodev', DIR], { stdio: 'pipe' });
      writeFileSync(`${DIR}/tracing_on`, '0');
      writeFileSync(`${DIR}/trace_clock`, 'mono');
      writeFileSync(`${DIR}/buffer_size_kb`, '4096');
      for (const e of EVENTS) writeFileSync(`${DIR}/events/${e}/enable`, '1');
      writeFileSync(`${DIR}/trace`, '');
      writeFileSync(`${DIR}/tracing_on`, '1');
      return new DriverTrace();
    } catch (e) {
      return { error: `kernel trace unavailable (${String(e.message).split('\n')[0]}): no driver-to-consumer latency` };
    }
  }

  clear() {
    writeFileSync(`${DIR}/trace`, '');
  }

  close() {
    try {
      for (const e of EVENTS) writeFileSync(`${DIR}/events/${e}/enable`, '0');
    } catch {
      /* the VM goes away anyway */
    }
  }

  /**
   * The frames dequeued since the last clear(), in dequeue order:
   * [{ seq, index, doneUs, dqUs, tsUs, task }] (doneUs null when its buf_done was not seen).
   */
  frames() {
    const text = readFileSync(`${DIR}/trace`, 'utf8');
    const lastDone = new Map(); // buffer index -> time of its last vb2_buf_done
    const out = [];
    let lost = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('#')) continue;
      if (/CPU:\d+ \[LOST/.test(line)) lost++;
      let m = /\s([\d.]+): vb2_buf_done: .*?index = (\d+), type = (\d+)/.exec(line);
      if (m) {
        if (m[3] === '1') lastDone.set(Number(m[2]), Math.round(Number(m[1]) * 1e6));
        continue;
      }
      m = /^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): v4l2_dqbuf: minor = \d+, index = (\d+), type = VIDEO_CAPTURE, .*?timestamp = (\d+), .*sequence = (\d+)/.exec(line);
      if (m) {
        const index = Number(m[4]);
        out.push({
          seq: Number(m[6]),
          index,
          doneUs: lastDone.get(index) ?? null,
          dqUs: Math.round(Number(m[3]) * 1e6),
          tsUs: Math.floor(Number(m[5]) / 1000),
          task: m[1].trim(),
        });
        lastDone.delete(index);
      }
    }
    if (lost) out.lost = lost;
    return out;
  }
}

function stats(valuesUs) {
  return {
    p50: round(percentile(valuesUs, 50) / 1000, 3),
    p99: round(percentile(valuesUs, 99) / 1000, 3),
    max: round(maxOf(valuesUs) / 1000, 3),
  };
}

/**
 * Latency split for frames matched to their trace record:
 * total = done -> consumer, wake = done -> dequeue, deliver = dequeue -> consumer.
 * @param {{ rec: object, atUs: number }[]} pairs
 */
function summarize(pairs, unmatched, extra = {}) {
  const ok = pairs.filter((p) => p.rec && p.rec.doneUs !== null);
  const total = ok.map((p) => p.atUs - p.rec.doneUs);
  const negative = total.filter((v) => v < 0).length;
  return {
    matched: ok.length,
    unmatched: unmatched + (pairs.length - ok.length),
    negative, // > 0 would mean a wrong match
    totalMs: stats(total),
    doneToDequeueMs: stats(ok.map((p) => p.rec.dqUs - p.rec.doneUs)),
    dequeueToConsumerMs: stats(ok.map((p) => p.atUs - p.rec.dqUs)),
    ...extra,
  };
}

/**
 * MiniAV: frames carry the sequence number, which MiniAV keeps equal to the driver's
 * (it advances over the driver's gaps and over frames it gives back).
 * @param {object[]} trace DriverTrace.frames()
 * @param {{ seq: number[], jsUs: number[], tsUs: number[] }} f the window's frames
 */
export function miniavLatency(trace, f) {
  const bySeq = new Map();
  for (const r of trace) if (!bySeq.has(r.seq)) bySeq.set(r.seq, r);
  const pairs = [];
  let unmatched = 0;
  let driverTimestamp = 0;
  for (let i = 0; i < f.seq.length; i++) {
    const rec = bySeq.get(f.seq[i]);
    if (!rec) {
      unmatched++;
      continue;
    }
    pairs.push({ rec, atUs: f.jsUs[i] });
    if (Math.abs(f.tsUs[i] - rec.tsUs) <= 1) driverTimestamp++;
  }
  return summarize(pairs, unmatched, {
    // Frames whose frame.timestampUs is the driver's own timestamp (0 with vivid: its
    // stamps lie ahead, so MiniAV used its dequeue time).
    framesWithDriverTimestamp: driverTimestamp,
    // The driver's stamp minus the real hand-over, for the record.
    driverStampAheadMs: stats(pairs.filter((p) => p.rec.doneUs !== null).map((p) => p.rec.tsUs - p.rec.doneUs)),
  });
}

/**
 * A pipe reader: the k-th frame that arrived is the k-th buffer the child dequeued (the
 * children here neither drop nor reorder frames between dequeue and output).
 * @param {object[]} trace DriverTrace.frames()
 * @param {number[]} arrivalsUs every frame's arrival, from the first one on
 * @param {number} from index of the window's first frame
 * @param {number} count frames in the window
 */
export function pipeLatency(trace, arrivalsUs, from, count) {
  const pairs = [];
  let unmatched = 0;
  for (let k = from; k < from + count; k++) {
    if (k >= trace.length) unmatched++;
    else pairs.push({ rec: trace[k], atUs: arrivalsUs[k] });
  }
  return summarize(pairs, unmatched, { dequeuedInTrace: trace.length, arrivals: arrivalsUs.length });
}
