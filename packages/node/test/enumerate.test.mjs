// Device lists: the test-pattern devices appear only with MINIAV_FAKE_DEVICES=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { camera, screen, audio, loopback, getVersion, now } from '../dist/index.js';

test('enumerate lists test-pattern devices only when MINIAV_FAKE_DEVICES=1', async () => {
  const saved = process.env.MINIAV_FAKE_DEVICES;
  try {
    // Real backends (the X server of the test rig, for one) may list devices too.
    const fakes = (list) => list.filter((d) => d.backend === 'test-pattern');
    delete process.env.MINIAV_FAKE_DEVICES;
    assert.deepEqual(fakes(await camera.enumerateDevices()), []);
    assert.deepEqual(fakes(await screen.enumerateDisplays()), []);
    process.env.MINIAV_FAKE_DEVICES = '1';
    const [cam] = fakes(await camera.enumerateDevices());
    assert.deepEqual(cam, { id: 'test-pattern', name: 'MiniAV test pattern camera', backend: 'test-pattern', isDefault: true, type: 'camera', geometry: { x: 0, y: 0, width: 1280, height: 720 } });
    const [display] = fakes(await screen.enumerateDisplays());
    assert.deepEqual(display.geometry, { x: 0, y: 0, width: 1920, height: 1080 });
    assert.deepEqual(fakes(await screen.enumerateWindows()), []);
    assert.equal(fakes(await audio.enumerateDevices())[0].id, 'test-pattern');
    assert.equal(fakes(await loopback.enumerateTargets({ type: 'system' }))[0].type, 'loopback');
    assert.deepEqual(fakes(await loopback.enumerateTargets({ type: 'process' })), []);
    const formats = await camera.getSupportedFormats('test-pattern');
    assert.ok(formats.some((f) => f.width === 1920 && f.pixelFormat === 'nv12'));
    const aformats = await audio.getSupportedFormats('test-pattern');
    assert.ok(aformats.some((f) => f.sampleRate === 48000 && f.sampleFormat === 's16'));
  } finally {
    if (saved === undefined) delete process.env.MINIAV_FAKE_DEVICES;
    else process.env.MINIAV_FAKE_DEVICES = saved;
  }
});

test('version and clock', () => {
  assert.match(getVersion(), /^\d+\.\d+\.\d+$/);
  const a = now();
  const b = now();
  assert.ok(b >= a && a > 0);
});
