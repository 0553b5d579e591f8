// The Windows addon (prebuilds/win32-x64, cross-compiled with mingw-w64) from Windows Node,
// run under Wine by scripts/test-win.sh: Wine's GDI sees the Xvfb rig's screen (root
// MINIAV_RIG_X11_ROOT), WASAPI the PulseAudio rig (default input = 660 Hz mic; the script
// plays MINIAV_RIG_WINE_TONE_HZ into the rig's speakers for loopback). Skipped elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { audio, camera, getBackends, loopback, now, screen, setBackend, MiniAVError } from '../dist/index.js';
import { closeLater, collect, frequency, recordSeconds, stampedSequence } from './helpers.mjs';

const onWindows = process.platform === 'win32';
const winTest = (name, fn) => test(name, onWindows ? {} : { skip: 'Windows only (scripts/test-win.sh runs it under Wine)' }, fn);
const rigged = (name, need, fn) =>
  test(name, !onWindows ? { skip: 'Windows only' } : need.every((v) => process.env[v]) ? {} : { skip: `needs ${need.join(', ')} (the Wine rig)` }, fn);

winTest('the Windows backends are built in and the unusable ones say why', async () => {
  assert.deepEqual(getBackends('screen'), ['dxgi', 'wgc', 'gdi', 'test-pattern']);
  assert.deepEqual(getBackends('camera'), ['mediafoundation', 'test-pattern']);
  assert.deepEqual(getBackends('audio'), ['wasapi', 'test-pattern']);
  assert.deepEqual(getBackends('loopback'), ['wasapi', 'test-pattern']);
  // Wine has no Desktop Duplication: forcing it is a clear error, not an empty list.
  setBackend('screen', 'dxgi');
  try {
    await assert.rejects(screen.enumerateDisplays(), (e) => e instanceof MiniAVError && e.code === 'MINIAV_ERROR_BACKEND_UNAVAILABLE');
  } finally {
    setBackend('screen', null);
  }
});

rigged('a GDI display capture shows the rig screen, zero-copy, on the MiniAV clock', ['MINIAV_RIG_X11_ROOT'], async (t) => {
  const displays = await screen.enumerateDisplays();
  const display = displays.find((d) => d.backend === 'gdi' && d.isDefault);
  assert.ok(display, JSON.stringify(displays));
  assert.match(display.id, /^gdi:display:/);
  assert.deepEqual([display.geometry?.width, display.geometry?.height], [1920, 1080]);
  const stream = closeLater(t, await screen.open(display.id, { frameRate: 30, pixelFormat: 'bgra', poolSize: 8, maxQueued: 8 }));
  const t0 = now();
  await stream.start();
  const frames = await collect(stream, 5, 20000);
  const root = Number.parseInt(process.env.MINIAV_RIG_X11_ROOT, 16);
  const want = [root & 0xff, (root >> 8) & 0xff, (root >> 16) & 0xff];
  for (const f of frames) {
    assert.equal(f.video.width, 1920);
    assert.equal(f.video.height, 1080);
    const { data, stride } = f.video.planes[0];
    for (const [x, y] of [[0, 0], [960, 540], [1919, 1079], [17, 1000]]) {
      const p = y * stride + x * 4;
      assert.deepEqual([data[p], data[p + 1], data[p + 2]], want, `pixel ${x},${y} of frame ${f.sequence}`);
    }
    assert.ok(f.timestampUs >= t0 && f.timestampUs <= now(), 'timestamp on the MiniAV clock');
  }
  assert.deepEqual(frames.map((f) => f.sequence), [0, 1, 2, 3, 4]);
  for (const f of frames) f.release();
  await stream.stop();
  assert.equal(stream.stats.copies, 0, 'BitBlt writes straight into the buffers JavaScript gets');
});

rigged('a region of the display has the region size', ['MINIAV_RIG_X11_ROOT'], async (t) => {
  const [display] = (await screen.enumerateDisplays()).filter((d) => d.backend === 'gdi');
  const stream = closeLater(t, await screen.open({ region: { display: display.id, x: 100, y: 50, width: 320, height: 200 } }, { frameRate: 30 }));
  await stream.start();
  const [f] = await collect(stream, 1, 20000);
  assert.deepEqual([f.video.width, f.video.height], [320, 200]);
  f.release();
  await assert.rejects(screen.open({ region: { display: display.id, x: 1900, y: 0, width: 320, height: 200 } }), (e) => e.code === 'MINIAV_ERROR_INVALID_ARG');
  await assert.rejects(screen.open('gdi:window:0'), (e) => e.code === 'MINIAV_ERROR_DEVICE_NOT_FOUND' && /enumerate/i.test(e.message));
});

rigged('WASAPI hears the rig microphone at its frequency, in the buffer size asked for', ['MINIAV_RIG_PULSE_MIC_HZ'], async (t) => {
  const inputs = await audio.enumerateDevices();
  const mic = inputs.find((d) => d.backend === 'wasapi' && d.isDefault);
  assert.ok(mic, JSON.stringify(inputs));
  assert.match(mic.id, /^wasapi:/);
  for (const [sampleFormat, channels, bufferFrames] of [['f32', 1, 480], ['s16', 2, 960]]) {
    const stream = closeLater(t, await audio.open(mic.id, { sampleFormat, sampleRate: 48000, channels, bufferFrames }));
    const { samples, buffers, sampleRate } = await recordSeconds(stream, 1);
    await stream.close();
    const hz = frequency(samples.slice(sampleRate / 5), sampleRate);
    const want = Number(process.env.MINIAV_RIG_PULSE_MIC_HZ);
    assert.ok(Math.abs(hz - want) < want * 0.02, `${sampleFormat}/${channels}: measured ${hz} Hz`);
    assert.ok(buffers.every((b) => b.frames === bufferFrames), `${sampleFormat}/${channels}: buffer sizes`);
    const step = (bufferFrames / 48000) * 1e6;
    for (let i = 1; i < buffers.length; i++) {
      assert.equal(buffers[i].seq, buffers[i - 1].seq + 1);
      assert.ok(Math.abs(buffers[i].ts - buffers[i - 1].ts - step) <= 2, `buffer ${i}: timestamps advance by frames/rate`);
    }
  }
  await assert.rejects(audio.open('wasapi:{no-such-endpoint}'), (e) => e.code === 'MINIAV_ERROR_DEVICE_NOT_FOUND');
});

rigged('WASAPI loopback of the rig speakers hears what plays there', ['MINIAV_RIG_WINE_TONE_HZ'], async (t) => {
  const targets = await loopback.enumerateTargets();
  const speakers = targets.find((d) => d.backend === 'wasapi' && /MiniAV-Rig-Speakers/.test(d.name));
  assert.ok(speakers, JSON.stringify(targets));
  const stream = closeLater(t, await loopback.open(speakers.id, { sampleFormat: 'f32', channels: 1, bufferFrames: 480 }));
  const { samples, sampleRate } = await recordSeconds(stream, 1);
  const hz = frequency(samples.slice(sampleRate / 5), sampleRate);
  const want = Number(process.env.MINIAV_RIG_WINE_TONE_HZ);
  assert.ok(Math.abs(hz - want) < want * 0.02, `measured ${hz} Hz`);
  // Per-process loopback needs Windows 10 build 20348; Wine says it is older. The process
  // need not be listed (Wine lists no sessions): its id is made, and refused with the reason.
  await assert.rejects(loopback.open({ processId: process.pid }), (e) => e.code === 'MINIAV_ERROR_NOT_SUPPORTED' && /20348/.test(e.message));
});

winTest('cameras: Media Foundation lists none under Wine; the test pattern still works', async (t) => {
  const cams = await camera.enumerateDevices();
  assert.ok(cams.every((c) => c.backend !== 'mediafoundation' || /^mf:/.test(c.id)));
  await assert.rejects(camera.open('mf:\\\\?\\usb#no-such-camera'), (e) => e.code === 'MINIAV_ERROR_DEVICE_NOT_FOUND');
  const cam = closeLater(t, await camera.open('test-pattern', { width: 320, height: 240, pixelFormat: 'bgra', frameRate: 30, poolSize: 12, maxQueued: 12 }));
  await cam.start();
  const frames = await collect(cam, 10, 20000);
  assert.deepEqual(frames.map((f) => f.sequence), frames.map((_, i) => i));
  assert.deepEqual(frames.map(stampedSequence), frames.map((_, i) => i), 'the pixels of each frame are that frame');
  assert.equal(cam.stats.copies, 0);
  for (const f of frames) f.release();
  assert.ok(frames.every((f) => f.video.planes[0].data.byteLength === 0), 'released frames are detached');
});
