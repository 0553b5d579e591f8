// MiniAV audio input into a JavaScript 'frame' handler, measured in this process:
// audio.open('pulse:<mic>', 48 kHz stereo s16, 480-frame buffers), each buffer
// checked (sine breaks, sample count vs timestamps) and released at once.
// CPU is counted like the pipe rows': over `seconds` from the first buffer, so neither
// side pays its start-up (the pipes' process spawn, MiniAV's start()) or its shutdown.
import { GapRecorder, percentileOfSorted, procCpuMs, round } from './measure.mjs';
import { CountVsClock, SineChecker } from './audio-signal.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const RATE = 48000;
export const CHANNELS = 2;
export const BUFFER_FRAMES = 480;

/**
 * @param {{ seconds: number, mic: string, micHz: number, serverPid?: number | null, progress?: (s: string) => void }} o
 */
export async function measureMiniAVAudio(o) {
  // Imported here so a broken native build fails this row, not the whole bench.
  const { audio, now } = await import('../../packages/node/dist/index.js');
  const stream = await audio.open(`pulse:${o.mic}`, { bufferFrames: BUFFER_FRAMES, sampleFormat: 's16', channels: CHANNELS, sampleRate: RATE });

  const gaps = new GapRecorder();
  const sine = new SineChecker({ hz: o.micHz, rate: RATE, channels: CHANNELS });
  const vsArrival = new CountVsClock(RATE);
  let buffers = 0;
  let frames = 0;
  let wrongSize = 0;
  let seqMissing = 0;
  let lastSeq = -1;
  let firstArrivalUs = -1;
  let firstTimestampUs = null;
  let tsMaxDevUs = 0; // |timestamp - (first timestamp + frames before it / rate)|
  const latencies = []; // arrival - (timestamp + duration): capture of the last sample -> handler
  let tStart = 0;
  let errors = 0;

  stream.on('frame', (f) => {
    const t = now();
    const a = f.audio;
    if (firstArrivalUs < 0) {
      firstArrivalUs = t - tStart;
      firstTimestampUs = f.timestampUs;
    }
    if (lastSeq >= 0 && f.sequence !== lastSeq + 1) seqMissing += f.sequence - lastSeq - 1;
    lastSeq = f.sequence;
    const expected = firstTimestampUs + (frames * 1e6) / RATE;
    tsMaxDevUs = Math.max(tsMaxDevUs, Math.abs(f.timestampUs - expected));
    if (a.frameCount !== BUFFER_FRAMES) wrongSize++;
    sine.push(a.data);
    frames += a.frameCount;
    buffers++;
    gaps.mark(t);
    const durUs = (a.frameCount * 1e6) / RATE;
    latencies.push(t - (f.timestampUs + durUs));
    vsArrival.mark(t, a.frameCount, firstTimestampUs);
    f.release();
  });
  stream.on('error', (e) => {
    errors++;
    o.progress?.(`miniav stream error: ${e?.message ?? e}`);
  });

  // The steady window: from the first buffer, `seconds` long.
  const firstBuffer = new Promise((resolve) => stream.once('frame', resolve));
  const cpuFromStart0 = process.cpuUsage();
  tStart = now();
  await stream.start();
  const startReturnedUs = now() - tStart;
  await firstBuffer;
  const window = { t0: now(), cpu0: process.cpuUsage(), server0: o.serverPid ? procCpuMs(o.serverPid) : null };
  if (o.seconds >= 60) {
    // Soak: a line of progress every minute.
    for (let s = 0; s < o.seconds; s += 60) {
      await sleep(Math.min(60, o.seconds - s) * 1000);
      o.progress?.(`  ${Math.min(o.seconds, s + 60)} s: ${buffers} buffers, dropped ${stream.stats.dropped}, sine breaks ${sine.breaks}`);
    }
  } else {
    await sleep(o.seconds * 1000);
  }
  const wallUs = now() - window.t0;
  const cpu = process.cpuUsage(window.cpu0);
  const serverCpuMs = o.serverPid ? procCpuMs(o.serverPid) - window.server0 : null;
  const statsBeforeStop = { ...stream.stats };
  await stream.stop();
  const cpuFromStart = process.cpuUsage(cpuFromStart0);
  const wallFromStartUs = now() - tStart;
  const stats = { ...stream.stats };
  await stream.close();

  const cpuMs = (cpu.user + cpu.system) / 1000;
  const sortedLat = Float64Array.from(latencies).sort();
  const pct = (p) => (sortedLat.length ? percentileOfSorted(sortedLat, p) / 1000 : null);
  const drift = vsArrival.result();
  return {
    buffers,
    gapP50Ms: round(gaps.percentileMs(50), 3),
    gapP99Ms: round(gaps.percentileMs(99), 3),
    gapMaxMs: round(gaps.maxMs(), 3),
    cpuPercent: round((cpuMs * 1000 * 100) / wallUs, 2),
    firstDataMs: round(firstArrivalUs / 1000, 2),
    lostBuffers: statsBeforeStop.dropped + seqMissing,
    sineBreaks: sine.breaks,
    tsMaxDevUs: round(tsMaxDevUs, 2),
    driftPpm: round(drift.driftPpm, 1),
    wallS: round(wallUs / 1e6, 2),
    gapsUs: gaps.gapsUs(),
    extra: {
      cpuMs: round(cpuMs, 1),
      // start() to stop() returned, both included: what the window above leaves out.
      cpuPercentStartToStop: round((((cpuFromStart.user + cpuFromStart.system) / 1000) * 1000 * 100) / wallFromStartUs, 2),
      serverCpuPercent: serverCpuMs === null ? null : round((serverCpuMs * 1000 * 100) / wallUs, 2),
      startReturnedMs: round(startReturnedUs / 1000, 2),
      // start() -> the capture time MiniAV gives the first sample (timestamp of buffer 0).
      firstTimestampAfterStartMs: firstTimestampUs === null ? null : round((firstTimestampUs - tStart) / 1000, 2),
      latencyP50Ms: round(pct(50), 3),
      latencyP99Ms: round(pct(99), 3),
      latencyMaxMs: round(pct(100), 3),
      statsBeforeStop,
      statsAfterStop: stats,
      sequenceGaps: seqMissing,
      wrongSize,
      frames,
      framesExpected: Math.round(((wallFromStartUs - firstArrivalUs) / 1e6) * RATE),
      driftMs: round(drift.driftMs, 3),
      sinePeak: round(sine.peak / 32768, 4),
      sineBreakAtSample: sine.breakAtSample,
      errors,
    },
  };
}
