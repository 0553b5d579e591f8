// Camera properties and fourcc options on the host (the test pattern has no properties
// and no fourccs); the V4L2 side of both is in v4l2.test.mjs, inside the vivid VM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  camera,
  screen,
  fourccCode,
  fourccText,
  isFourcc,
  planeShapes,
  PIXEL_FORMATS,
  MiniAVError,
  NodeCameraStream,
} from '../dist/index.js';
import { closeLater, collect } from './helpers.mjs';

function code(expected, includes) {
  return (e) => {
    assert.ok(e instanceof MiniAVError, `a MiniAVError, got ${e}`);
    assert.equal(e.code, expected, e.message);
    assert.ok(e.message.length > 15, 'the message explains');
    if (includes) assert.ok(e.message.includes(includes), `'${e.message}' mentions '${includes}'`);
    return true;
  };
}

test('the test-pattern camera has no properties', async (t) => {
  const cam = closeLater(t, await camera.open('test-pattern', { width: 64, height: 48 }));
  assert.ok(cam instanceof NodeCameraStream);
  assert.deepEqual(await cam.properties(), []);
  await assert.rejects(cam.getProperty('brightness'), code('MINIAV_ERROR_NOT_SUPPORTED', "'brightness'"));
  await assert.rejects(cam.setProperty('brightness', 10), code('MINIAV_ERROR_NOT_SUPPORTED'));
  await assert.rejects(cam.setProperty('test_pattern', 'Colorbar'), code('MINIAV_ERROR_NOT_SUPPORTED', "'test_pattern'"));
  await assert.rejects(cam.setPropertyAuto('gain', true), code('MINIAV_ERROR_NOT_SUPPORTED'));
  // While streaming too.
  await cam.start();
  assert.deepEqual(await cam.properties(), []);
  await cam.stop();
});

test('bad property arguments are rejected before they reach the device', async (t) => {
  const cam = closeLater(t, await camera.open('test-pattern', { width: 64, height: 48 }));
  await assert.rejects(cam.getProperty(''), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(cam.getProperty(7), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(cam.setProperty('brightness', 1.5), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(cam.setProperty('brightness', NaN), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(cam.setProperty('brightness', 2 ** 60), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(cam.setProperty('brightness', {}), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(cam.setProperty('brightness'), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(cam.setPropertyAuto('gain', 'yes'), code('MINIAV_ERROR_INVALID_ARG'));
});

test('property calls after close reject with STREAM_CLOSED', async () => {
  const cam = await camera.open('test-pattern', { width: 64, height: 48 });
  await cam.close();
  await assert.rejects(cam.properties(), code('MINIAV_ERROR_STREAM_CLOSED'));
  await assert.rejects(cam.getProperty('brightness'), code('MINIAV_ERROR_STREAM_CLOSED'));
  await assert.rejects(cam.setProperty('brightness', 1), code('MINIAV_ERROR_STREAM_CLOSED'));
  await assert.rejects(cam.setPropertyAuto('gain', true), code('MINIAV_ERROR_STREAM_CLOSED'));
});

test('screen streams have no property methods', async (t) => {
  const s = closeLater(t, await screen.open('test-pattern', { width: 64, height: 48 }));
  assert.equal(typeof s.properties, 'undefined');
});

test('fourcc text and codes', () => {
  assert.equal(fourccCode('YUYV'), 0x56595559);
  assert.equal(fourccText(0x56595559), 'YUYV');
  assert.equal(fourccText(fourccCode('Y10 ')), 'Y10 ');
  assert.equal(fourccCode('XR15-BE'), (fourccCode('XR15') | 0x80000000) >>> 0);
  assert.equal(fourccText(fourccCode('XR15-BE')), 'XR15-BE');
  assert.equal(fourccText(0), '');
  for (const bad of ['toolong', 'YUV', '', 'YU\u00e9V', 'YU\nV', 'YUYV-LE', 42, null]) {
    assert.equal(isFourcc(bad), false, String(bad));
    if (typeof bad === 'string') assert.throws(() => fourccCode(bad), RangeError);
  }
  assert.ok(PIXEL_FORMATS.includes('unknown'));
  assert.throws(() => planeShapes('unknown', 4, 4), RangeError);
});

test('fourcc options: validated, and refused where the backend has no fourccs', async () => {
  const open = (o) => camera.open('test-pattern', o);
  await assert.rejects(open({ fourcc: 'toolong' }), code('MINIAV_ERROR_INVALID_ARG', 'four-character'));
  await assert.rejects(open({ fourcc: 'Y10' }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ fourcc: 0x56595559 }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(open({ pixelFormat: 'unknown' }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', 'fourcc'));
  const e = await open({ pixelFormat: 'purple' }).catch((x) => x);
  assert.ok(!e.message.includes('unknown,'), 'the list of names leaves out unknown');
});

// The C test-pattern (and X11) backends copy the requested fourcc into their configured
// format although they deliver no such thing, so the Node check cannot see the mismatch.
test('a fourcc is refused where the backend has no fourccs', async () => {
  for (const opening of [camera.open('test-pattern', { fourcc: 'YUYV' }), screen.open('test-pattern', { fourcc: 'BGRA' })]) {
    const result = await opening.catch((e) => e);
    if (!(result instanceof Error)) {
      await result.close();
      assert.fail(`opened, with format ${JSON.stringify(result.format)}`);
    }
    code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', 'no format with fourcc')(result);
  }
});

test('test-pattern formats and frames carry no fourcc and no DMA-BUF, even with output gpu', async (t) => {
  const formats = await camera.getSupportedFormats('test-pattern');
  assert.ok(formats.length > 0);
  for (const f of formats) assert.equal('fourcc' in f, false);
  const cam = closeLater(t, await camera.open('test-pattern', { width: 64, height: 48, pixelFormat: 'nv12', output: 'gpu', frameRate: 'max' }));
  assert.equal('fourcc' in cam.format, false);
  await cam.start();
  const [f] = await collect(cam, 1);
  assert.equal(f.contentType, 'cpu');
  assert.equal(f.video.fourcc, undefined);
  assert.equal(f.video.dmabuf, undefined);
  assert.equal(f.video.planes.length, 2);
  f.release();
});

test('every listed format can be passed back to open() as the options', async () => {
  for (const f of await camera.getSupportedFormats('test-pattern')) {
    const cam = await camera.open('test-pattern', f);
    assert.deepEqual(cam.format, f);
    await cam.close();
  }
  // The frame rates a format may list: { n, 0 } = as fast as possible, { 0, 0 } = default.
  const max = await camera.open('test-pattern', { width: 64, height: 48, frameRate: { num: 1, den: 0 } });
  assert.deepEqual(max.format.frameRate, { num: 1, den: 0 });
  await max.close();
  const dflt = await camera.open('test-pattern', { width: 64, height: 48, frameRate: { num: 0, den: 0 } });
  assert.deepEqual(dflt.format.frameRate, { num: 30, den: 1 });
  await dflt.close();
  await assert.rejects(camera.open('test-pattern', { frameRate: { num: 0, den: 5 } }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(camera.open('test-pattern', { frameRate: { num: -1, den: 1 } }), code('MINIAV_ERROR_INVALID_ARG'));
});
