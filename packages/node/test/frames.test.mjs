// Video frames: order, content, zero-copy release semantics, dropping when held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { camera, screen, now, MiniAVError } from '../dist/index.js';
import { barAt, closeLater, collect, stampedSequence, sleep, waitFor } from './helpers.mjs';

test('frame numbers increase without gaps when frames are released promptly', async (t) => {
  const cam = closeLater(t, await camera.open('test-pattern', { width: 160, height: 120, pixelFormat: 'bgra', frameRate: 500, poolSize: 64, maxQueued: 60 }));
  const seen = [];
  let bad = 0;
  cam.on('frame', (f) => {
    seen.push(f.sequence);
    if (stampedSequence(f) !== f.sequence) bad++;
    // Bars at a few columns of the last row, BGRA.
    const { data, stride } = f.video.planes[0];
    for (const x of [5, 40, 80, 159]) {
      const [r, g, b] = barAt(x, 160, f.sequence);
      const p = 119 * stride + x * 4;
      if (data[p] !== b || data[p + 1] !== g || data[p + 2] !== r || data[p + 3] !== 255) bad++;
    }
    f.release();
  });
  await cam.start();
  await waitFor(() => seen.length >= 500, 15000, '500 frames');
  await cam.stop();
  assert.equal(bad, 0, 'stamped sequence and bar colours match');
  assert.deepEqual(seen.slice(0, 500), Array.from({ length: 500 }, (_, i) => i));
  const s = cam.stats;
  assert.equal(s.dropped, 0);
  assert.equal(s.held, 0);
  assert.equal(s.copies, 0, 'zero-copy path');
  assert.equal(s.delivered, seen.length);
});

test('the drop counter rises and memory stays bounded while the application holds frames', async (t) => {
  const frameBytes = 1920 * 1080 * 4;
  const cam = closeLater(t, await camera.open('test-pattern', { width: 1920, height: 1080, pixelFormat: 'bgra', frameRate: 'max', poolSize: 4 }));
  const held = [];
  cam.on('frame', (f) => held.push(f));
  const rssBefore = process.memoryUsage().rss;
  await cam.start();
  await waitFor(() => cam.stats.dropped >= 50, 15000, 'drops');
  await sleep(300);
  const s = cam.stats;
  assert.ok(held.length <= 4, `at most the pool is held (${held.length})`);
  assert.equal(s.held, held.length);
  assert.ok(s.dropped >= 50);
  const grown = process.memoryUsage().rss - rssBefore;
  assert.ok(grown < frameBytes * 4 + 64 * 1024 * 1024, `rss grew ${grown} bytes`);
  // Held frames keep their content: the pool never reuses a held buffer.
  for (const f of held) assert.equal(stampedSequence(f), f.sequence);
  // Release them: capture flows again.
  const before = s.delivered;
  for (const f of held.splice(0)) f.release();
  await waitFor(() => held.length > 0, 5000, 'frames after release');
  assert.ok(cam.stats.delivered > before);
  await cam.stop();
  for (const f of held.splice(0)) f.release();
  assert.equal(cam.stats.held, 0);
});

test('release() detaches the ArrayBuffer; double release and release after close are harmless', async (t) => {
  const cam = await camera.open('test-pattern', { width: 64, height: 48, pixelFormat: 'i420', frameRate: 'max' });
  await cam.start();
  const [a, b, c] = await collect(cam, 3);
  await cam.stop();
  assert.equal(a.video.planes.length, 3);
  const buffer = a.video.planes[0].data.buffer;
  assert.ok(buffer.byteLength > 0);
  assert.equal(a.released, false);
  a.release();
  assert.equal(a.released, true);
  assert.equal(buffer.byteLength, 0, 'detached');
  assert.equal(a.video.planes[0].data.byteLength, 0);
  assert.equal(a.video.planes[2].data.byteLength, 0);
  a.release(); // idempotent
  b[Symbol.dispose]();
  assert.equal(b.released, true);
  await cam.close();
  // c outlived its stream: still readable, then released without harm.
  assert.equal(stampedSequence(c), c.sequence);
  c.release();
  c.release();
  assert.equal(c.video.planes[0].data.byteLength, 0);
  assert.equal(cam.stats.held, 0);
});

test('frames() iterates, Symbol.dispose releases, and the stream ends the iterator on stop', async (t) => {
  const cam = closeLater(t, await camera.open('test-pattern', { width: 32, height: 32, pixelFormat: 'rgba', frameRate: 200 }));
  let n = 0;
  let last;
  const t0 = now();
  for await (const frame of cam.frames()) {
    const f = frame;
    assert.equal(f.sequence, n);
    assert.ok(f.timestampUs >= t0 - 1000);
    if (last) assert.ok(f.timestampUs > last, 'timestamps increase');
    last = f.timestampUs;
    f[Symbol.dispose]();
    if (++n === 10) void cam.stop();
  }
  assert.ok(n >= 10);
  assert.equal(cam.stats.held, 0, 'every frame was released');
});

test('drop-oldest keeps the newest frames for a slow consumer; drop-newest keeps the oldest', async (t) => {
  // The first frame's handler stalls the JS thread for 300 ms. Frames queued natively
  // meanwhile (maxQueued 2) arrive after the stall, after a jump in sequence: with
  // drop-newest they are the ones queued as the stall began (300 ms old), with
  // drop-oldest the latest ones (fresh).
  async function ageAfterStall(dropPolicy) {
    const cam = closeLater(t, await camera.open('test-pattern', { width: 32, height: 32, frameRate: 'max', dropPolicy, maxQueued: 2, poolSize: 8 }));
    let stalledSeq = -1;
    let age = null;
    cam.on('frame', (f) => {
      if (stalledSeq < 0) {
        stalledSeq = f.sequence;
        const until = Date.now() + 300;
        while (Date.now() < until); // frames pile up natively
      } else if (age === null && f.sequence > stalledSeq + 2) {
        age = (now() - f.timestampUs) / 1000; // the first frame of the queue filled during the stall
      }
      f.release();
    });
    await cam.start();
    await waitFor(() => age !== null, 10000, 'a frame queued during the stall');
    await cam.stop();
    assert.ok(cam.stats.dropped > 0, `${dropPolicy} counted its drops`);
    return age;
  }
  const newest = await ageAfterStall('drop-newest');
  const oldest = await ageAfterStall('drop-oldest');
  assert.ok(newest > 200, `drop-newest keeps the frames queued first (${newest.toFixed(1)} ms old)`);
  assert.ok(oldest < 100, `drop-oldest keeps the latest frames (${oldest.toFixed(1)} ms old)`);
});

test('every pixel format has the planes and strides of its layout', async (t) => {
  const cases = [
    ['bgra', [448]], ['rgba', [448]], ['nv12', [128, 128]], ['i420', [128, 64, 64]], ['yuyv', [256]], ['rgb24', [320]], ['gray', [128]],
  ];
  for (const [pixelFormat, strides] of cases) {
    const cam = closeLater(t, await camera.open('test-pattern', { width: 100, height: 50, pixelFormat, frameRate: 'max' }));
    assert.equal(cam.format.pixelFormat, pixelFormat);
    await cam.start();
    const [f] = await collect(cam, 1);
    assert.deepEqual(f.video.planes.map((p) => p.stride), strides, pixelFormat);
    assert.equal(stampedSequence(f), 0);
    f.release();
  }
});

test('a screen region is exactly that rectangle of the display', async (t) => {
  const full = closeLater(t, await screen.open('test-pattern', { frameRate: 'max' }));
  assert.equal(full.format.width, 1920);
  const region = closeLater(t, await screen.open({ region: { display: 'test-pattern', x: 200, y: 300, width: 400, height: 100 } }, { frameRate: 'max' }));
  assert.deepEqual([region.format.width, region.format.height], [400, 100]);
  await region.start();
  const [f] = await collect(region, 1);
  const { data, stride } = f.video.planes[0];
  for (let x = 4; x < 400; x += 13) {
    const [r, g, b] = barAt(x, 400, f.sequence, 200, 1920);
    assert.deepEqual([data[50 * stride + x * 4 + 2], data[50 * stride + x * 4 + 1], data[50 * stride + x * 4]], [r, g, b], `x=${x}`);
  }
  f.release();
});

test('intrinsics supplied with setIntrinsics ride on every following frame', async (t) => {
  const cam = closeLater(t, await camera.open('test-pattern', { width: 64, height: 48, frameRate: 'max' }));
  const k = { fx: 500.5, fy: 501, cx: 32, cy: 24, distortion: [0.1, -0.05, 0, 0, 0.01] };
  cam.setIntrinsics(k);
  await cam.start();
  const [f] = await collect(cam, 1);
  assert.deepEqual(f.video.intrinsics, k);
  f.release();
  assert.throws(() => cam.setIntrinsics({ fx: NaN, fy: 1, cx: 0, cy: 0, distortion: [] }), (e) => e instanceof MiniAVError && e.code === 'MINIAV_ERROR_INVALID_ARG');
});

test('a throwing frame listener surfaces as an uncaught exception and capture goes on', async (t) => {
  const cam = closeLater(t, await camera.open('test-pattern', { width: 32, height: 32, frameRate: 200 }));
  const uncaught = [];
  const onUncaught = (e) => uncaught.push(e);
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  try {
    let n = 0;
    cam.on('frame', (f) => {
      f.release();
      if (++n === 3) throw new Error('listener bug');
    });
    await cam.start();
    await waitFor(() => n >= 20, 10000, 'frames after the throw');
  } finally {
    process.off('uncaughtException', onUncaught);
    for (const l of saved) process.on('uncaughtException', l);
  }
  assert.equal(uncaught.length, 1);
  assert.equal(uncaught[0].message, 'listener bug');
});

// frames() queues: video frames and audio buffers of one stream (a screen with audio) wait
// and drop apart, each by the drop policy, so a slow iterator of video never costs sound.
for (const dropOldest of [false, true]) {
  test(`frames() iterators queue video and audio apart (${dropOldest ? 'drop-oldest' : 'drop-newest'})`, async () => {
    const { FrameIterators } = await import('../dist/index.js');
    const released = [];
    const frame = (type, n) => ({ type, n, release: () => released.push(`${type}${n}`) });
    const iterators = new FrameIterators({ running: true, closed: false, start: async () => {} }, 2, dropOldest, 32);
    const it = iterators.create();
    let dropped = 0;
    for (let i = 0; i < 40; i++) {
      dropped += iterators.offer(frame('audio', i));
      if (i % 8 === 0) dropped += iterators.offer(frame('video', i / 8));
    }
    // 5 video frames (2 kept), 40 audio buffers (32 kept).
    assert.equal(dropped, 3 + 8);
    const got = [];
    for (let i = 0; i < 34; i++) got.push((await it.next()).value);
    const video = got.filter((f) => f.type === 'video').map((f) => f.n);
    const audio = got.filter((f) => f.type === 'audio').map((f) => f.n);
    assert.deepEqual(video, dropOldest ? [3, 4] : [0, 1]);
    assert.deepEqual(audio, dropOldest ? [...Array(32).keys()].map((i) => i + 8) : [...Array(32).keys()]);
    assert.equal(released.length, 11);
    await it.return();
  });
}
