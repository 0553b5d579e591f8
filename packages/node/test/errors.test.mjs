// Bad input gets a MiniAVError with the right code and a message that says what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { camera, screen, audio, loopback, setLogLevel, onLog, setBackend, getBackends, MiniAVError } from '../dist/index.js';

function code(expected) {
  return (e) => {
    assert.ok(e instanceof MiniAVError, `a MiniAVError, got ${e}`);
    assert.equal(e.code, expected, e.message);
    assert.ok(e.message.length > 15, 'the message explains');
    return true;
  };
}

test('bad device ids', async () => {
  await assert.rejects(camera.open('no-such-camera'), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
  await assert.rejects(camera.open(''), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(camera.open(42), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(audio.open('mic-404'), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
  await assert.rejects(loopback.open('app-404'), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
  await assert.rejects(screen.open('display-404'), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
  await assert.rejects(screen.open({ window: 'test-pattern' }), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
  await assert.rejects(camera.getSupportedFormats('nope'), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
});

test('bad sizes, formats and rates', async () => {
  const open = (o) => camera.open('test-pattern', o);
  await assert.rejects(open({ width: 7681, height: 100 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ width: 100, height: 4321 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ width: 100 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ width: -4, height: 100 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ width: 1.5, height: 100 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ pixelFormat: 'mjpeg' }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED'));
  await assert.rejects(open({ pixelFormat: 'purple' }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED'));
  await assert.rejects(open({ frameRate: 0 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ frameRate: 5000 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ frameRate: 'fast' }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ output: 'tpu' }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ poolSize: 0 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ poolSize: 300 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ dropPolicy: 'drop-random' }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ backend: 'v4l9' }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ backend: 'x'.repeat(40) }), code('MINIAV_ERROR_INVALID_ARG'));
  const forced = await open({ backend: 'test-pattern' });
  assert.equal(forced.backend, 'test-pattern');
  await forced.close();
  await assert.rejects(open('not options'), code('MINIAV_ERROR_INVALID_ARG'));
  const aopen = (o) => audio.open('test-pattern', o);
  await assert.rejects(aopen({ sampleRate: 4000 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(aopen({ sampleRate: 384000 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(aopen({ channels: 9 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(aopen({ channels: 0 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(aopen({ sampleFormat: 's24' }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED'));
  await assert.rejects(aopen({ sampleFormat: 'float64' }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED'));
  await assert.rejects(aopen({ bufferFrames: 96001, sampleRate: 48000 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(screen.open({ region: { display: 'test-pattern', x: 1900, y: 0, width: 100, height: 100 } }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(screen.open({ region: { display: 'test-pattern', x: 0, y: 0, width: 0, height: 100 } }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(screen.open('test-pattern', { audio: 'loud' }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(screen.open('test-pattern', { audio: { sampleFormat: 'f64' } }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED'));
  await assert.rejects(loopback.enumerateTargets({ type: 'planet' }), code('MINIAV_ERROR_INVALID_ARG'));
  // A process id is a positive 32-bit integer (the C API's process_id).
  for (const processId of [0, -1, 1.5, 2 ** 32]) await assert.rejects(loopback.open({ processId }), code('MINIAV_ERROR_INVALID_ARG'));
});

test('what the device chose is reported back', async () => {
  const cam = await camera.open('test-pattern', { output: 'gpu' });
  assert.deepEqual(cam.format, { width: 1280, height: 720, pixelFormat: 'bgra', frameRate: { num: 30, den: 1 }, output: 'cpu' });
  await cam.close();
  const mic = await audio.open('test-pattern');
  assert.deepEqual(mic.format, { sampleRate: 48000, channels: 2, sampleFormat: 'f32', bufferFrames: 480 });
  await mic.close();
});

test('use after close, double start and stop', async () => {
  const cam = await camera.open('test-pattern', { width: 32, height: 32 });
  await cam.start();
  await cam.start(); // already running: no-op
  await cam.stop();
  await cam.stop(); // not running: no-op
  await cam.close();
  await cam.close(); // idempotent
  assert.equal(cam.closed, true);
  await assert.rejects(cam.start(), code('MINIAV_ERROR_STREAM_CLOSED'));
  assert.throws(() => cam.setIntrinsics(null), code('MINIAV_ERROR_STREAM_CLOSED'));
  const it = cam.frames();
  assert.deepEqual(await it.next(), { value: undefined, done: true });
  assert.equal(typeof cam.stats.delivered, 'number');
});

test('backends, log level and log listener', async () => {
  // Platform backends first (those whose headers were there at build time), the test pattern last.
  const cameras = getBackends('camera');
  assert.equal(cameras.at(-1), 'test-pattern');
  const platformCameras = process.platform === 'win32' ? ['mediafoundation'] : ['pipewire', 'v4l2'];
  assert.ok(cameras.every((n) => [...platformCameras, 'test-pattern'].includes(n)), cameras.join());
  assert.throws(() => setBackend('camera', 'quantum'), code('MINIAV_ERROR_INVALID_ARG'));
  setBackend('camera', 'test-pattern');
  setBackend('camera', null);
  assert.throws(() => setLogLevel('loud'), code('MINIAV_ERROR_INVALID_ARG'));
  const lines = [];
  const off = onLog((level, message) => lines.push([level, message]));
  setLogLevel('debug');
  await assert.rejects(camera.open('ghost'));
  await new Promise((r) => setTimeout(r, 50));
  setLogLevel('warn');
  off();
  assert.ok(lines.some(([level, m]) => level === 'debug' && m.includes('ghost')), JSON.stringify(lines));
});
