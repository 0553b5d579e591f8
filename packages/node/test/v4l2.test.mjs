// V4L2 through @miniav/node, against the vivid virtual driver inside the project's VM rig:
//   MINIAV_VIVID_PARAMS='n_devs=2 node_types=0x1,0x1' bash scripts/rigs/vivid-vm.sh \
//     node --test --test-concurrency=1 packages/node/test/v4l2.test.mjs
// (two capture-only vivid instances: /dev/video0 = v4l2:platform:vivid-000, /dev/video1 =
// v4l2:platform:vivid-001). Outside the VM every test is skipped; inside it, a missing vivid
// device is a failure. v4l2-ctl is the reference for formats and pixels, as in test_v4l2.c.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fstatSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { camera, fourccCode, isFourcc, MiniAVError } from '../dist/index.js';
import { closeLater, collect, sleep, waitFor } from './helpers.mjs';

const skip = process.env.MINIAV_IN_VIVID_VM === '1' ? false : 'needs the vivid VM rig (scripts/rigs/vivid-vm.sh sets MINIAV_IN_VIVID_VM=1)';
const CAM0 = 'v4l2:platform:vivid-000';
const CAM1 = 'v4l2:platform:vivid-001';

function code(expected, includes) {
  return (e) => {
    assert.ok(e instanceof MiniAVError, `a MiniAVError, got ${e}`);
    assert.equal(e.code, expected, e.message);
    assert.ok(e.message.length > 15, 'the message explains');
    if (includes) assert.ok(e.message.includes(includes), `'${e.message}' mentions '${includes}'`);
    return true;
  };
}

/** Rows of `rowBytes` bytes, `stride` apart, copied into one block. */
function rows(data, stride, rowBytes, count, out = new Uint8Array(rowBytes * count), at = 0) {
  for (let y = 0; y < count; y++) out.set(data.subarray(y * stride, y * stride + rowBytes), at + y * rowBytes);
  return out;
}

/**
 * The frame `skip` frames after start, kept; the others are released at once (a V4L2
 * stream delivers at most pool size - 1 frames while the application holds them, and a
 * frame held after close keeps the device busy).
 */
function frameAfter(stream, skip = 3, ms = 20000) {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      stream.off('frame', onFrame);
      reject(new Error(`only ${seen} of ${skip + 1} frames in ${ms} ms`));
    }, ms);
    function onFrame(f) {
      if (seen++ < skip) return f.release();
      clearTimeout(timer);
      stream.off('frame', onFrame);
      resolve(f);
    }
    stream.on('frame', onFrame);
    stream.start().catch((e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

test('enumerate lists both vivid cameras', { skip }, async () => {
  const devices = await camera.enumerateDevices();
  const vivid = devices.filter((d) => d.backend === 'v4l2' && d.name === 'vivid');
  assert.deepEqual(
    vivid.map((d) => d.id),
    [CAM0, CAM1],
    `vivid devices: ${JSON.stringify(devices)}`,
  );
  assert.ok(vivid.every((d) => d.type === 'camera'));
  assert.equal(vivid[0].isDefault, true);
});

test('formats: named ones, unnamed ones by fourcc, the same fourccs as v4l2-ctl', { skip }, async () => {
  const formats = await camera.getSupportedFormats(CAM0);
  assert.ok(formats.length > 100, `${formats.length} formats`);
  assert.ok(
    formats.some((f) => f.pixelFormat === 'yuyv' && f.fourcc === 'YUYV' && f.width === 640 && f.height === 360 && f.frameRate.num === 30 && f.frameRate.den === 1),
    'yuyv 640x360 @30 listed',
  );
  assert.ok(formats.some((f) => f.pixelFormat === 'nv12' && f.fourcc === 'NV12'));
  assert.ok(formats.some((f) => f.pixelFormat === 'unknown' && f.fourcc === 'YVYU' && f.width === 640 && f.height === 360));
  for (const f of formats) assert.ok(isFourcc(f.fourcc), `fourcc ${JSON.stringify(f.fourcc)}`);
  // Every code v4l2-ctl lists, in its own spelling ('XR15-BE' included), and no other.
  const listed = execFileSync('v4l2-ctl', ['-d', '/dev/video0', '--list-formats'], { encoding: 'utf8' });
  const theirs = new Set([...listed.matchAll(/\[\d+\]: '([^']+)'/g)].map((m) => m[1]));
  assert.ok(theirs.has('XR15-BE'), 'vivid lists a big-endian format');
  assert.deepEqual(new Set(formats.map((f) => f.fourcc)), theirs);
});

test('each listed fourcc opens as listed (the entry passed back as the options)', { skip }, async () => {
  const first = new Map();
  for (const f of await camera.getSupportedFormats(CAM0)) if (!first.has(f.fourcc)) first.set(f.fourcc, f);
  const wrong = [];
  for (const f of first.values()) {
    const cam = await camera.open(CAM0, f);
    const got = cam.format;
    await cam.close();
    if (got.fourcc !== f.fourcc || got.pixelFormat !== f.pixelFormat || got.width !== f.width || got.height !== f.height)
      wrong.push(`${JSON.stringify(f)} -> ${JSON.stringify(got)}`);
  }
  assert.deepEqual(wrong, []);
  assert.ok(first.size > 50, `${first.size} fourccs`);
});

test('nv12 frames are byte-identical to v4l2-ctl, plane by plane', { skip }, async () => {
  const cam = await camera.open(CAM0, { pixelFormat: 'nv12', width: 640, height: 360, frameRate: 30 });
  let ours;
  try {
    // vivid's picture without its text overlay is the same in every frame.
    await cam.setProperty('osd_text_mode', 2);
    assert.deepEqual(cam.format, { width: 640, height: 360, pixelFormat: 'nv12', frameRate: { num: 30, den: 1 }, output: 'cpu', fourcc: 'NV12' });
    const f = await frameAfter(cam);
    assert.equal(f.contentType, 'cpu');
    assert.equal(f.video.pixelFormat, 'nv12');
    assert.equal(f.video.fourcc, 'NV12');
    assert.equal(f.video.dmabuf, undefined);
    assert.equal(f.video.planes.length, 2);
    const [y, uv] = f.video.planes;
    assert.ok(y.stride >= 640 && uv.stride >= 640);
    ours = new Uint8Array(640 * 540);
    rows(y.data, y.stride, 640, 360, ours, 0);
    rows(uv.data, uv.stride, 640, 180, ours, 640 * 360);
    f.release();
    assert.equal(cam.stats.copies, 0, 'zero-copy');
  } finally {
    await cam.close();
  }
  const file = join(tmpdir(), `miniav-v4l2-ref-${process.pid}.raw`);
  try {
    execFileSync('v4l2-ctl', ['-d', '/dev/video0', '--set-fmt-video=width=640,height=360,pixelformat=NV12', '--stream-mmap', '--stream-count=3', `--stream-to=${file}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const ref = readFileSync(file);
    assert.equal(ref.length % 3, 0);
    const frame = ref.length / 3;
    const stride = frame / 540;
    assert.ok(Number.isInteger(stride) && stride >= 640, `v4l2-ctl frame of ${frame} bytes`);
    const last = rows(new Uint8Array(ref.buffer, ref.byteOffset + 2 * frame, frame), stride, 640, 540);
    let differ = 0;
    for (let i = 0; i < last.length; i++) if (last[i] !== ours[i]) differ++;
    assert.equal(differ, 0, `${differ} of ${last.length} bytes differ from v4l2-ctl's frame`);
    // Not a trivially uniform picture.
    assert.ok(new Set(ours.subarray(0, 640)).size > 4);
  } finally {
    rmSync(file, { force: true });
  }
});

test("fourcc opens a format MiniAV has no name for (YVYU: YUYV's chroma swapped)", { skip }, async () => {
  // An entry of getSupportedFormats() works as the options as it is.
  const entry = (await camera.getSupportedFormats(CAM0)).find(
    (f) => f.fourcc === 'YVYU' && f.width === 640 && f.height === 360 && f.frameRate.num === 30 && f.frameRate.den === 1,
  );
  assert.ok(entry);
  const cam = await camera.open(CAM0, entry);
  let yvyu;
  try {
    assert.deepEqual(cam.format, entry);
    assert.equal(cam.format.pixelFormat, 'unknown');
    await cam.setProperty('osd_text_mode', 2);
    const f = await frameAfter(cam);
    assert.equal(f.video.pixelFormat, 'unknown');
    assert.equal(f.video.fourcc, 'YVYU');
    assert.equal(f.video.planes.length, 1);
    const p = f.video.planes[0];
    assert.ok(p.stride >= 1280 && p.data.length >= p.stride * 359 + 1280, `stride ${p.stride}, ${p.data.length} bytes`);
    yvyu = rows(p.data, p.stride, 1280, 360);
    f.release();
  } finally {
    await cam.close();
  }
  // By fourcc alone, and the same picture as YUYV with U and V swapped.
  const named = await camera.open(CAM0, { fourcc: 'YUYV', width: 640, height: 360, frameRate: 30 });
  try {
    assert.equal(named.format.pixelFormat, 'yuyv');
    const f = await frameAfter(named);
    assert.equal(f.video.fourcc, 'YUYV');
    const yuyv = rows(f.video.planes[0].data, f.video.planes[0].stride, 1280, 360);
    f.release();
    let differ = 0;
    for (let i = 0; i < yuyv.length; i += 4)
      if (yuyv[i] !== yvyu[i] || yuyv[i + 1] !== yvyu[i + 3] || yuyv[i + 2] !== yvyu[i + 2] || yuyv[i + 3] !== yvyu[i + 1]) differ++;
    assert.equal(differ, 0, `${differ} of ${yuyv.length / 4} pixel pairs differ`);
  } finally {
    await named.close();
  }
});

test('properties: list, get, set, automatic mode, menus by name', { skip }, async (t) => {
  const cam = closeLater(t, await camera.open(CAM0, { pixelFormat: 'yuyv', width: 320, height: 180, frameRate: 30 }));
  const props = await cam.properties();
  const by = new Map(props.map((p) => [p.name, p]));
  const brightness = by.get('brightness');
  assert.ok(brightness, `properties: ${[...by.keys()].join(', ')}`);
  assert.equal(brightness.label, 'Brightness');
  assert.equal(brightness.type, 'integer');
  assert.equal(brightness.min, 0);
  assert.equal(brightness.max, 255);
  assert.equal(brightness.step, 1);
  assert.equal(brightness.default, 128);
  assert.equal(brightness.hasAuto, false);
  assert.equal(brightness.readOnly, false);
  assert.equal(brightness.menu, undefined);
  assert.equal(by.get('gain').hasAuto, true);
  assert.equal(by.has('gain_automatic'), false, 'automatic is part of gain');
  assert.equal(by.get('boolean').type, 'boolean');
  assert.equal(by.get('disconnect').type, 'button');
  assert.equal(by.get('read_only_integer_32_bits').readOnly, true);
  assert.equal(by.has('string'), false, 'string controls are not properties');
  const pattern = by.get('test_pattern');
  assert.equal(pattern.type, 'menu');
  assert.equal(pattern.menu.length, 22);
  assert.deepEqual(pattern.menu.slice(0, 2), [{ value: 0, name: '75% Colorbar' }, { value: 1, name: '100% Colorbar' }]);
  // int64 limits arrive as numbers (2^63 - 1 rounds to 2^63).
  assert.equal(by.get('integer_64_bits').min, -(2 ** 63));
  assert.equal(by.get('integer_64_bits').max, 2 ** 63);

  await cam.setProperty('brightness', 200);
  assert.deepEqual(await cam.getProperty('brightness'), { value: 200, auto: false });
  assert.equal((await cam.properties()).find((p) => p.name === 'brightness').value, 200);
  await cam.setProperty('brightness', 128);

  await cam.setPropertyAuto('gain', false);
  assert.equal((await cam.getProperty('gain')).auto, false);
  await cam.setPropertyAuto('gain', true);
  assert.equal((await cam.getProperty('gain')).auto, true);
  const gain = (await cam.properties()).find((p) => p.name === 'gain');
  assert.equal(gain.auto, true);
  assert.equal(gain.inactive, true);
  await cam.setProperty('gain', 60); // a value turns automatic off
  assert.deepEqual(await cam.getProperty('gain'), { value: 60, auto: false });
  await cam.setPropertyAuto('gain', true);

  await cam.setProperty('boolean', false);
  assert.equal((await cam.getProperty('boolean')).value, 0);
  await cam.setProperty('boolean', true);
  assert.equal((await cam.getProperty('boolean')).value, 1);

  await cam.setProperty('test_pattern', '100% Colorbar');
  assert.equal((await cam.getProperty('test_pattern')).value, 1);
  await cam.setProperty('test_pattern', 0);
  assert.equal((await cam.getProperty('test_pattern')).value, 0);
  // An integer menu: items by their text; the value is the item's index.
  await cam.setProperty('integer_menu', '5');
  assert.equal((await cam.getProperty('integer_menu')).value, 4);

  // Properties work while streaming.
  await cam.start();
  await collect(cam, 1, 20000, { release: true });
  await cam.setProperty('brightness', 90);
  assert.equal((await cam.getProperty('brightness')).value, 90);
  await cam.stop();
  await cam.setProperty('brightness', 128);

  // Bad input: the core's codes and messages.
  await assert.rejects(cam.setProperty('brightness', 300), code('MINIAV_ERROR_INVALID_ARG', '0..255'));
  await assert.rejects(cam.setProperty('test_pattern', 'Plaid'), code('MINIAV_ERROR_INVALID_ARG', "'75% Colorbar'"));
  await assert.rejects(cam.setProperty('brightness', 'bright'), code('MINIAV_ERROR_INVALID_ARG', 'integer'));
  await assert.rejects(cam.getProperty('no-such-thing'), code('MINIAV_ERROR_NOT_SUPPORTED', 'no-such-thing'));
  await assert.rejects(cam.setProperty('no-such-thing', 'x'), code('MINIAV_ERROR_NOT_SUPPORTED', 'no-such-thing'));
  await assert.rejects(cam.setPropertyAuto('brightness', true), code('MINIAV_ERROR_NOT_SUPPORTED'));
  await assert.rejects(cam.setProperty('read_only_integer_32_bits', 1), code('MINIAV_ERROR_NOT_SUPPORTED'));
  await cam.close();
  await assert.rejects(cam.getProperty('brightness'), code('MINIAV_ERROR_STREAM_CLOSED'));
});

test("output 'gpu': DMA-BUF descriptors, valid until release", { skip }, async () => {
  for (const [pixelFormat, drm, planes] of [['yuyv', 'YUYV', 1], ['nv12', 'NV12', 2]]) {
    const cam = await camera.open(CAM0, { pixelFormat, width: 640, height: 360, frameRate: 30, output: 'gpu' });
    try {
      assert.equal(cam.format.output, 'gpu');
      const f = await frameAfter(cam, 1);
      assert.equal(f.contentType, 'gpu-dmabuf');
      const d = f.video.dmabuf;
      assert.ok(d, 'dmabuf info');
      assert.equal(d.drmFormat, fourccCode(drm));
      assert.equal(d.modifier, 0n);
      assert.equal(d.planes.length, planes);
      const fd = d.planes[0].fd;
      assert.ok(fd >= 0);
      assert.ok(fstatSync(fd), 'an open descriptor');
      assert.match(readlinkSync(`/proc/self/fd/${fd}`), /dmabuf/);
      const size = Number(/size:\s*(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1]);
      // The CPU planes describe the same buffer.
      assert.equal(f.video.planes.length, planes);
      for (let p = 0; p < planes; p++) {
        assert.equal(d.planes[p].stride, f.video.planes[p].stride);
        assert.ok(f.video.planes[p].data.length > 0);
      }
      assert.equal(d.planes[0].offset, 0);
      if (planes === 2) {
        assert.equal(d.planes[1].fd, fd, 'NV12 planes share one buffer');
        assert.equal(d.planes[1].offset, d.planes[0].stride * 360);
      }
      assert.ok(size >= d.planes[0].stride * (planes === 2 ? 540 : 360), `dmabuf of ${size} bytes`);
      f.release();
      assert.equal(f.released, true);
      assert.equal(d.planes[0].fd, -1, 'no stale descriptor after release');
      assert.equal(f.video.planes[0].data.length, 0);
      assert.equal(cam.stats.held, 0);
    } finally {
      await cam.close();
    }
  }
});

test('bad input: unknown device, format not offered, bad fourcc, busy device', { skip }, async () => {
  await assert.rejects(camera.open('v4l2:platform:nothing'), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
  await assert.rejects(camera.open(CAM0, { pixelFormat: 'mjpeg' }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', 'yuyv'));
  await assert.rejects(camera.open(CAM0, { fourcc: 'toolong' }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(camera.open(CAM0, { fourcc: 'ZZZZ' }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED'));
  await assert.rejects(camera.open(CAM0, { fourcc: 'YUYV', pixelFormat: 'nv12' }), code('MINIAV_ERROR_INVALID_ARG', 'different formats'));
  await assert.rejects(camera.open(CAM0, { pixelFormat: 'unknown' }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', 'fourcc'));
  const first = await camera.open(CAM0, { pixelFormat: 'yuyv', width: 320, height: 180 });
  try {
    await first.start();
    await assert.rejects(camera.open(CAM0, { pixelFormat: 'yuyv', width: 320, height: 180 }), code('MINIAV_ERROR_DEVICE_BUSY'));
  } finally {
    await first.close();
  }
});

test("unplug: 'error' DEVICE_LOST and 'ended'; a held frame stays readable; the device comes back", { skip }, async () => {
  const changes = [];
  const unwatch = camera.watchDevices((c) => changes.push(`${c.type} ${c.device.id}`), { intervalMs: 100 });
  try {
    await sleep(300); // the watch's first list is the starting point
    const cam = await camera.open(CAM1, { pixelFormat: 'yuyv', width: 320, height: 180, frameRate: 30 });
    const errors = [];
    const ended = [];
    cam.on('error', (e) => errors.push(e));
    cam.on('ended', (info) => ended.push(info));
    await cam.start();
    const [held] = await collect(cam, 1, 20000);
    const data = held.video.planes[0].data;
    const copy = data.slice();
    await cam.setProperty('disconnect', 0);
    await waitFor(() => ended.length > 0, 10000, "'ended' after the unplug");
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof MiniAVError);
    assert.equal(errors[0].code, 'MINIAV_ERROR_DEVICE_LOST', errors[0].message);
    assert.deepEqual(ended, [{ reason: 'error', code: 'MINIAV_ERROR_DEVICE_LOST', message: errors[0].message }]);
    assert.equal(cam.running, false);
    // vivid keeps the device unplugged while a descriptor is open.
    await assert.rejects(camera.open(CAM1), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
    await waitFor(() => changes.includes(`removed ${CAM1}`), 5000, 'the watch to see it go');
    assert.deepEqual(held.video.planes[0].data, copy, 'the held frame is intact');
    await cam.close();
    assert.deepEqual(data, copy, 'and readable after close');
    assert.equal(held.released, false);
    held.release();
    assert.equal(held.released, true);
    assert.equal(cam.stats.held, 0);
    // Every descriptor closed: vivid plugs it back.
    await waitFor(() => changes.includes(`added ${CAM1}`), 10000, 'the watch to see it come back');
    assert.ok((await camera.enumerateDevices()).some((d) => d.id === CAM1));
    const again = await camera.open(CAM1, { pixelFormat: 'yuyv', width: 320, height: 180 });
    await again.start();
    await collect(again, 1, 20000, { release: true });
    await again.close();
  } finally {
    unwatch();
  }
});
