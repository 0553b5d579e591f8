// The audio test pattern: 440 Hz, amplitude 0.5, timestamps that agree with sample counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { audio, loopback } from '../dist/index.js';
import { closeLater, frequency, waitFor } from './helpers.mjs';

async function capture(t, api, options, seconds) {
  // Room for 0.6 s of buffers: a slow first JavaScript turn (an ASan build, a busy machine)
  // must not drop any, since these tests count every buffer; dropping is tested elsewhere.
  const stream = closeLater(t, await api.open('test-pattern', { poolSize: 64, maxQueued: 60, ...options }));
  const { sampleRate, channels } = stream.format;
  const samples = [];
  const buffers = [];
  stream.on('frame', (f) => {
    assert.equal(f.type, 'audio');
    const { data, frameCount } = f.audio;
    const scale = f.audio.sampleFormat === 's16' ? 1 / 32767 : 1;
    for (let i = 0; i < frameCount; i++) samples.push(data[i * channels + channels - 1] * scale);
    buffers.push({ ts: f.timestampUs, frames: frameCount, seq: f.sequence, bytes: data.byteLength });
    f.release();
  });
  await stream.start();
  await waitFor(() => samples.length >= sampleRate * seconds, 15000, 'samples');
  await stream.stop();
  return { stream, samples, buffers, sampleRate, channels };
}

for (const [name, api, options] of [
  ['audio f32 48 kHz stereo', audio, { sampleFormat: 'f32', sampleRate: 48000, channels: 2 }],
  ['audio s16 44.1 kHz mono', audio, { sampleFormat: 's16', sampleRate: 44100, channels: 1 }],
  ['loopback f32 16 kHz 8 channels', loopback, { sampleFormat: 'f32', sampleRate: 16000, channels: 8, bufferFrames: 160 }],
]) {
  test(`${name}: a 440 Hz sine of amplitude 0.5, timestamps match sample counts`, async (t) => {
    const { samples, buffers, sampleRate, channels, stream } = await capture(t, api, options, 0.5);
    const hz = frequency(samples, sampleRate);
    assert.ok(Math.abs(hz - 440) < 0.5, `measured ${hz} Hz`);
    const peak = samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(Math.abs(peak - 0.5) < 0.01, `peak ${peak}`);
    const bytes = options.sampleFormat === 's16' ? 2 : 4;
    let total = 0;
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      assert.equal(b.seq, i, 'no buffer lost');
      assert.equal(b.bytes, b.frames * channels * bytes);
      // Timestamp = first timestamp + samples before it / rate (integer µs).
      const expected = buffers[0].ts + Math.floor((total * 1e6) / sampleRate);
      assert.ok(Math.abs(b.ts - expected) <= 1, `buffer ${i}: ${b.ts} vs ${expected}`);
      total += b.frames;
    }
    if (options.bufferFrames) assert.ok(buffers.every((b) => b.frames === options.bufferFrames));
    assert.equal(stream.stats.dropped, 0);
  });
}

// Audio waits for JavaScript longer than video by default (maxQueued 32, pool 40): an event
// loop blocked for 150 ms (15 of the default 10 ms buffers) costs latency, not sound. With
// the video default of 2 queued buffers this stall dropped about 12.
for (const [name, api] of [['audio', audio], ['loopback', loopback]]) {
  test(`${name}: with the default queue a 150 ms stall of the event loop loses no buffer`, async (t) => {
    const stream = closeLater(t, await api.open('test-pattern', { sampleRate: 48000, bufferFrames: 480 }));
    const seqs = [];
    stream.on('frame', (f) => {
      seqs.push(f.sequence);
      f.release();
    });
    await stream.start();
    await waitFor(() => seqs.length >= 3, 5000, 'first buffers');
    const until = performance.now() + 150;
    while (performance.now() < until); // the stall: nothing runs on this thread
    const after = seqs.length;
    await waitFor(() => seqs.length >= after + 25, 5000, 'buffers after the stall');
    await stream.stop();
    assert.equal(stream.stats.dropped, 0, JSON.stringify(stream.stats));
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'no sequence number skipped');
  });
}
