// PipeWire cameras from JavaScript, against the project's PipeWire rig (scripts/rigs/pipewire.sh)
// and the fake camera node of known content (miniav_c/tests/pw_fake_camera.c, built by the C
// tests into build/c-release): frame n has n in bytes 0-3 and (y * 3 + n * 7) & 0xff in
// every other byte of row y.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { camera } from '../dist/index.js';
import { closeLater, collect, stampedSequence, waitFor } from './helpers.mjs';

const fakeCamera = fileURLToPath(new URL('../../../build/c-release/pw_fake_camera', import.meta.url));
const why = !process.env.PIPEWIRE_RUNTIME_DIR
  ? 'no PIPEWIRE_RUNTIME_DIR: start scripts/rigs/pipewire.sh'
  : !existsSync(fakeCamera)
    ? `no ${fakeCamera}: build the C tests (cmake -S miniav_c -B build/c-release)`
    : '';
if (why && process.env.MINIAV_REQUIRE_PIPEWIRE) throw new Error(`PipeWire rig required: ${why}`);
const pwTest = (name, fn) => test(name, why ? { skip: why } : {}, fn);

// A node name per test: a camera stopped by the previous test may still be going away.
let NODE = '';
let ID = '';
let cameras = 0;

async function startCamera(t) {
  NODE = `miniav_node_test_camera_${process.pid}_${++cameras}`;
  ID = `pipewire:${NODE}`;
  const child = spawn(fakeCamera, [NODE], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`pw_fake_camera exited with ${code}`)));
  });
  const end = Date.now() + 5000;
  while (!(await camera.enumerateDevices()).some((d) => d.id === ID)) {
    if (Date.now() > end) throw new Error(`${ID} never listed`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

/** True when a YUY2 frame holds the fake camera's content for its own number. */
function hasCameraContent(frame) {
  const { planes, width, height } = frame.video;
  const { data, stride } = planes[0];
  const n = stampedSequence(frame);
  for (let y = 0; y < height; y += 11) {
    const want = (y * 3 + n * 7) & 0xff;
    for (let x = y ? 0 : 4; x < width * 2; x += 17) if (data[y * stride + x] !== want) return false;
  }
  return true;
}

pwTest('a PipeWire camera is listed, opened and gives its frames without copies', async (t) => {
  await startCamera(t);
  const dev = (await camera.enumerateDevices()).find((d) => d.id === ID);
  assert.equal(dev?.backend, 'pipewire');
  assert.equal(dev.name, 'MiniAV test camera');
  const formats = await camera.getSupportedFormats(ID);
  assert.deepEqual(
    formats.map((f) => `${f.pixelFormat} ${f.width}x${f.height}@${f.frameRate.num}/${f.frameRate.den}`).sort(),
    ['bgrx 320x240@30/1', 'bgrx 640x480@30/1', 'yuyv 320x240@30/1', 'yuyv 640x480@30/1'],
  );
  const cam = closeLater(t, await camera.open(ID, { width: 320, height: 240, pixelFormat: 'yuyv', frameRate: 30 }));
  await cam.start();
  assert.equal(cam.backend, 'pipewire');
  assert.deepEqual([cam.format.width, cam.format.height, cam.format.pixelFormat], [320, 240, 'yuyv']);
  // Checked and released one by one: the pool is 4 buffers, one of which stays with PipeWire.
  const numbers = [];
  let wrong = 0;
  let copied = 0;
  cam.on('frame', (f) => {
    if (!hasCameraContent(f)) wrong++;
    if (f.copied) copied++;
    numbers.push(stampedSequence(f));
    f.release();
  });
  await waitFor(() => numbers.length >= 20, 10000, '20 frames');
  assert.equal(wrong, 0, 'frames with other content than the camera sent');
  assert.equal(copied, 0);
  for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i] > numbers[i - 1], 'camera frame numbers increase');
  assert.equal(cam.stats.copies, 0);
});

pwTest('a held frame keeps its content while newer frames flow, and release gives the buffer back', async (t) => {
  await startCamera(t);
  const cam = closeLater(t, await camera.open(ID, { width: 640, height: 480, pixelFormat: 'yuyv', poolSize: 4 }));
  await cam.start();
  const [held] = await collect(cam, 1, 10000);
  const before = Buffer.from(held.video.planes[0].data);
  let newest = 0;
  let count = 0;
  cam.on('frame', (f) => {
    if (f === held) return;
    newest = Math.max(newest, stampedSequence(f));
    count++;
    f.release();
  });
  await waitFor(() => count >= 15, 10000, '15 newer frames');
  assert.ok(newest > stampedSequence(held));
  assert.ok(Buffer.from(held.video.planes[0].data).equals(before), 'the held frame did not change');
  assert.ok(hasCameraContent(held));
  assert.equal(cam.stats.held, 1);
  held.release();
  assert.equal(held.video.planes[0].data.length, 0);
  await waitFor(() => cam.stats.held === 0, 2000, 'held back to 0');
});

pwTest('the camera going away ends the stream with MINIAV_ERROR_DEVICE_LOST', async (t) => {
  const child = await startCamera(t);
  const cam = closeLater(t, await camera.open(ID, { pixelFormat: 'bgrx', width: 320, height: 240 }));
  await cam.start();
  const errors = [];
  cam.on('error', (e) => errors.push(e));
  await collect(cam, 3, 10000, { release: true });
  child.kill();
  await waitFor(() => errors.length > 0, 5000, 'an error event');
  assert.equal(errors[0].code, 'MINIAV_ERROR_DEVICE_LOST');
  await assert.rejects(camera.open(ID), (e) => e.code === 'MINIAV_ERROR_DEVICE_NOT_FOUND');
});
