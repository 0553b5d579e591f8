// Shared helpers for the @miniav/node tests.
export const BARS = [[235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16], [235, 16, 235], [235, 16, 16], [16, 16, 235], [16, 16, 16]];

/** The test pattern's colour (RGB) at column x of a frame `width` wide, frame `seq`. */
export function barAt(x, width, seq, xOffset = 0, virtualWidth = width) {
  return BARS[Math.floor((((x + xOffset + seq * 4) % virtualWidth) * 8) / virtualWidth)];
}

export function stampedSequence(frame) {
  const d = frame.video.planes[0].data;
  return (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0;
}

/** Resolves with the first `n` frames (kept, not released) or rejects after `ms`. */
export function collect(stream, n, ms = 10000, { release = false } = {}) {
  return new Promise((resolve, reject) => {
    const frames = [];
    const timer = setTimeout(() => {
      stream.off('frame', onFrame);
      reject(new Error(`only ${frames.length} of ${n} frames in ${ms} ms`));
    }, ms);
    function onFrame(f) {
      if (frames.length >= n) return f.release();
      frames.push(f);
      if (release) f.release();
      if (frames.length === n) {
        clearTimeout(timer);
        stream.off('frame', onFrame);
        resolve(frames);
      }
    }
    stream.on('frame', onFrame);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Closes a stream when the test ends (Node 20 has no `await using`). */
export function closeLater(t, stream) {
  t.after(() => stream.close());
  return stream;
}

/** Frequency of a sine by rising zero crossings, with linear interpolation between samples. */
export function frequency(samples, rate) {
  let first = -1;
  let last = -1;
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i - 1] < 0 && samples[i] >= 0) {
      const t = i - 1 + samples[i - 1] / (samples[i - 1] - samples[i]);
      if (first < 0) first = t;
      last = t;
      crossings++;
    }
  }
  return (crossings - 1) / ((last - first) / rate);
}

/** Collects `seconds` of the last channel's samples from an audio stream (scaled to ±1). */
export async function recordSeconds(stream, seconds) {
  const { sampleRate, channels } = stream.format;
  const samples = [];
  const buffers = [];
  stream.on('frame', (f) => {
    const { data, frameCount, sampleFormat } = f.audio;
    const scale = sampleFormat === 's16' ? 1 / 32767 : 1;
    for (let i = 0; i < frameCount; i++) samples.push(data[i * channels + channels - 1] * scale);
    buffers.push({ ts: f.timestampUs, frames: frameCount, seq: f.sequence });
    f.release();
  });
  await stream.start();
  await waitFor(() => samples.length >= sampleRate * seconds, 15000, `${seconds} s of samples`);
  await stream.stop();
  return { samples, buffers, sampleRate };
}

/** Amplitude of the `hz` component of a signal (Goertzel), about 0.5 for a sine of amplitude 0.5. */
export function toneAmplitude(samples, rate, hz) {
  const w = (2 * Math.PI * hz) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(power, 0))) / samples.length;
}

/**
 * Plays a sine (amplitude 0.5, 48 kHz mono) into a PulseAudio sink through an ordinary
 * client (pacat), which works on PulseAudio and on PipeWire's pulse server alike.
 * Resolves once the server lists the player; `stop()` ends it.
 */
export async function playTone(sink, hz, { seconds = 20 } = {}) {
  const { spawn } = await import('node:child_process');
  const { writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const samples = new Float32Array(48000 * seconds);
  for (let i = 0; i < samples.length; i++) samples[i] = 0.5 * Math.sin((2 * Math.PI * ((i * hz) % 48000)) / 48000);
  const file = join(tmpdir(), `miniav-tone-${hz}-${process.pid}-${Date.now()}.raw`);
  writeFileSync(file, new Uint8Array(samples.buffer));
  const env = { ...process.env };
  delete env.LD_PRELOAD; // a plain program, also in the ASan test run
  const name = `miniav tone ${hz} Hz`;
  const player = spawn('pacat', ['--playback', '--raw', '--format=float32le', '--rate=48000', '--channels=1', `--device=${sink}`, `--client-name=${name}`, file], {
    env,
    stdio: 'ignore',
  });
  const { loopback } = await import('../dist/index.js');
  const end = Date.now() + 5000;
  for (;;) {
    const apps = await loopback.enumerateTargets({ type: 'process' });
    if (apps.some((a) => a.name.includes(name))) break;
    if (Date.now() > end) throw new Error(`pacat playing ${hz} Hz never appeared`);
    await sleep(20);
  }
  return {
    pid: player.pid,
    stop() {
      player.kill();
      rmSync(file, { force: true });
    },
  };
}
