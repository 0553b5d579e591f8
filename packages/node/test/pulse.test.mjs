// PulseAudio input and loopback from JavaScript, against the rig (scripts/rigs/pulse.sh:
// default source miniav_mic = 660 Hz sine, default sink miniav_sink).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { audio, loopback, screen, now } from '../dist/index.js';
import { closeLater, frequency, playTone, recordSeconds, toneAmplitude, waitFor } from './helpers.mjs';

const ready = Boolean(process.env.PULSE_SERVER);
const why = 'no PULSE_SERVER: start scripts/rigs/pulse.sh';
if (!ready && process.env.MINIAV_REQUIRE_RIGS) throw new Error(`PulseAudio rig required: ${why}`);
const pulseTest = (name, fn) => test(name, ready ? {} : { skip: why }, fn);

pulseTest('the rig microphone is listed as the default input and sounds at its frequency', async (t) => {
  const inputs = (await audio.enumerateDevices()).filter((d) => d.backend === 'pulse');
  const mic = inputs.find((d) => d.id === `pulse:${process.env.MINIAV_RIG_PULSE_MIC}`);
  assert.ok(mic, JSON.stringify(inputs));
  assert.equal(mic.isDefault, true);
  assert.ok(inputs.every((d) => !d.id.endsWith('.monitor')), 'monitors are loopback targets, not inputs');
  const stream = closeLater(t, await audio.open(mic.id, { sampleFormat: 'f32', sampleRate: 48000, channels: 1, bufferFrames: 480 }));
  const { samples, buffers, sampleRate } = await recordSeconds(stream, 0.5);
  const hz = frequency(samples.slice(4800), sampleRate);
  assert.ok(Math.abs(hz - Number(process.env.MINIAV_RIG_PULSE_MIC_HZ)) < 2, `measured ${hz} Hz`);
  assert.ok(buffers.every((b) => b.frames === 480));
  for (let i = 1; i < buffers.length; i++) assert.ok(Math.abs(buffers[i].ts - buffers[i - 1].ts - 10000) <= 1, `buffer ${i} timestamp`);
  const stats = stream.stats;
  // One copy out of libpulse per buffer the backend filled (some of which may have been
  // dropped on the way to JavaScript, e.g. the one queued at stop()).
  assert.ok(stats.copies >= stats.delivered && stats.copies <= stats.delivered + stats.dropped, JSON.stringify(stats));
});

pulseTest('system loopback hears a tone played into the default sink', async (t) => {
  const targets = await loopback.enumerateTargets({ type: 'system' });
  assert.ok(targets.some((d) => d.id === 'pulse:system'));
  const tone = await playTone(process.env.MINIAV_RIG_PULSE_SINK, 880);
  t.after(() => tone.stop());
  const stream = closeLater(t, await loopback.open('pulse:system', { sampleFormat: 's16', channels: 2 }));
  const { samples, sampleRate } = await recordSeconds(stream, 0.6);
  const hz = frequency(samples.slice(Math.floor(sampleRate * 0.1)), sampleRate);
  assert.ok(Math.abs(hz - 880) < 2, `measured ${hz} Hz`);
});

pulseTest('loopback by process id hears that application', async (t) => {
  const tone = await playTone(process.env.MINIAV_RIG_PULSE_SINK, 770);
  t.after(() => tone.stop());
  const stream = closeLater(t, await loopback.open({ processId: tone.pid }, { sampleFormat: 'f32', channels: 1 }));
  assert.match(stream.deviceId, /^pulse:app:/);
  const { samples, sampleRate } = await recordSeconds(stream, 0.5);
  const hz = frequency(samples.slice(Math.floor(sampleRate * 0.1)), sampleRate);
  assert.ok(Math.abs(hz - 770) < 2, `measured ${hz} Hz`);
  await assert.rejects(loopback.open({ processId: 0x7ffffff0 }), (e) => e.code === 'MINIAV_ERROR_DEVICE_NOT_FOUND');
  await assert.rejects(loopback.open({ processId: -1 }), (e) => e.code === 'MINIAV_ERROR_INVALID_ARG');
});

test('screen + audio: the X screen and the system mix in one stream, on one clock', { skip: ready && process.env.DISPLAY ? false : 'needs the X11 and PulseAudio rigs' }, async (t) => {
  const tone = await playTone(process.env.MINIAV_RIG_PULSE_SINK, 550);
  t.after(() => tone.stop());
  const stream = closeLater(t, await screen.open('x11:root', { frameRate: 30, audio: { sampleFormat: 'f32', channels: 1 } }));
  const video = [];
  const samples = [];
  let firstAudio = null;
  const t0 = now();
  stream.on('frame', (f) => {
    if (f.type === 'video') video.push({ ts: f.timestampUs, w: f.video.width });
    else {
      firstAudio ??= f.timestampUs;
      for (const v of f.audio.data) samples.push(v);
    }
    f.release();
  });
  await stream.start();
  await waitFor(() => video.length >= 10 && samples.length >= 48000 * 0.5, 10000, 'video and audio');
  await stream.stop();
  assert.ok(video.every((v) => v.w === 1920));
  const hz = frequency(samples.slice(4800), 48000);
  assert.ok(Math.abs(hz - 550) < 2, `measured ${hz} Hz`);
  // One clock: both streams' first timestamps lie just after start().
  assert.ok(video[0].ts >= t0 && video[0].ts - t0 < 200000, `video ${video[0].ts - t0} µs after start`);
  assert.ok(firstAudio >= t0 - 100000 && firstAudio - t0 < 300000, `audio ${firstAudio - t0} µs after start`);
});

test('screen + audio: audio waits apart from video, so a 120 ms stall loses no audio', { skip: ready && process.env.DISPLAY ? false : 'needs the X11 and PulseAudio rigs' }, async (t) => {
  const stream = closeLater(t, await screen.open('x11:root', { frameRate: 30, audio: { sampleFormat: 'f32', channels: 1, bufferFrames: 480 } }));
  const audioSeqs = [];
  stream.on('frame', (f) => {
    if (f.type === 'audio') audioSeqs.push(f.sequence);
    f.release();
  });
  await stream.start();
  await waitFor(() => audioSeqs.length >= 5, 10000, 'first audio');
  const until = performance.now() + 120; // 12 audio buffers, 4 video frames: video's queue of 2 overflows
  while (performance.now() < until);
  const after = audioSeqs.length;
  await waitFor(() => audioSeqs.length >= after + 20, 10000, 'audio after the stall');
  await stream.stop();
  assert.deepEqual(audioSeqs, audioSeqs.map((_, i) => audioSeqs[0] + i), 'no audio buffer skipped');
});

pulseTest('system loopback follows the default output when it changes', async (t) => {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  const pactl = (...args) => execFileSync('pactl', args, { env, encoding: 'utf8' }).trim();
  const sink = process.env.MINIAV_RIG_PULSE_SINK;
  const modules = [pactl('load-module', 'module-null-sink', 'sink_name=miniav_sink_b', 'rate=48000', 'channels=2')];
  const tones = [await playTone(sink, 880), await playTone('miniav_sink_b', 330)];
  // A null sink's monitor only sends to a new recorder after up to 2 s unless a
  // low-latency reader keeps it ticking (hardware sinks have no such delay).
  const keepAlive = spawn('parec', ['-d', 'miniav_sink_b.monitor', '--latency-msec=10'], { env, stdio: ['ignore', 'ignore', 'ignore'] });
  t.after(() => {
    keepAlive.kill();
    for (const tone of tones) tone.stop();
    pactl('set-default-sink', sink);
    for (const m of modules.reverse()) pactl('unload-module', m);
  });
  const stream = closeLater(t, await loopback.open('pulse:system', { sampleFormat: 'f32', channels: 1 }));
  const samples = [];
  const seqs = [];
  stream.on('frame', (f) => {
    for (const v of f.audio.data) samples.push(v);
    seqs.push(f.sequence);
    f.release();
  });
  const ended = [];
  stream.on('ended', (e) => ended.push(e));
  await stream.start();
  await waitFor(() => samples.length >= 48000 * 0.5, 10000, 'audio from the first output');
  const before = frequency(samples.slice(4800), 48000);
  pactl('set-default-sink', 'miniav_sink_b');
  const mark = samples.length;
  await waitFor(() => samples.length >= mark + 48000 * 0.8, 10000, 'audio after the switch');
  await stream.stop();
  // The server moves streams that played on the old default along with it, so the
  // 880 Hz tone may follow too: what proves the switch is the 330 Hz tone of the new output.
  const first = samples.slice(4800, mark);
  const second = samples.slice(mark + 4800);
  assert.ok(Math.abs(before - 880) < 2, `before: ${before} Hz`);
  assert.ok(toneAmplitude(first, 48000, 330) < 0.02, 'no 330 Hz before the switch');
  assert.ok(toneAmplitude(second, 48000, 330) > 0.2, `330 Hz after the switch: ${toneAmplitude(second, 48000, 330)}`);
  assert.deepEqual(ended.filter((e) => e.reason !== 'stopped'), [], 'the stream went on');
});

pulseTest('loopback targets appear and go away as events', async (t) => {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  const changes = [];
  const stop = loopback.watchDevices((c) => changes.push(c), { intervalMs: 50 });
  t.after(stop);
  const module = execFileSync('pactl', ['load-module', 'module-null-sink', 'sink_name=miniav_watch_sink'], { env, encoding: 'utf8' }).trim();
  await waitFor(() => changes.some((c) => c.type === 'added' && c.device.id === 'pulse:sink:miniav_watch_sink'), 5000, 'added event');
  execFileSync('pactl', ['unload-module', module], { env });
  await waitFor(() => changes.some((c) => c.type === 'removed' && c.device.id === 'pulse:sink:miniav_watch_sink'), 5000, 'removed event');
  const added = changes.find((c) => c.type === 'added' && c.device.id === 'pulse:sink:miniav_watch_sink');
  assert.equal(added.device.type, 'loopback');
  assert.equal(added.device.backend, 'pulse');
});
