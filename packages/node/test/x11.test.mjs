// X11 screen capture against the Xvfb rig (scripts/rigs/x11.sh: 1920x1080, root #336699).
// Windows come from miniav_c/tests/x11_test_window, built with the C tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { screen, MiniAVError } from '../dist/index.js';
import { closeLater, collect, waitFor } from './helpers.mjs';

const helper = fileURLToPath(new URL('../../../build/c-release/x11_test_window', import.meta.url));
const ready = Boolean(process.env.DISPLAY) && existsSync(helper);
const why = !process.env.DISPLAY ? 'no DISPLAY: start scripts/rigs/x11.sh' : `no ${helper}: run the C build (npm test does)`;
if (!ready && process.env.MINIAV_REQUIRE_RIGS) throw new Error(`X11 rig required: ${why}`);
const x11Test = (name, fn) => test(name, ready ? {} : { skip: why }, fn);

/** A window of a known colour, driven line by line. */
async function openWindow(t, title, color, x, y, w, h) {
  const child = spawn(helper, [title, color, String(x), String(y), String(w), String(h)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = (await lines.next()).value;
  const id = `x11:window:${first.split(' ')[1]}`;
  const win = {
    id,
    pid: child.pid,
    async send(command) {
      child.stdin.write(`${command}\n`);
      assert.equal((await lines.next()).value, 'ok');
    },
    close() {
      child.stdin.end('quit\n');
      return new Promise((resolve) => child.once('exit', resolve));
    },
  };
  t.after(() => (child.exitCode === null ? win.close() : undefined));
  return win;
}

function bgra(frame, x, y) {
  const { data, stride } = frame.video.planes[0];
  const p = y * stride + x * 4;
  return [data[p], data[p + 1], data[p + 2], data[p + 3]];
}
const ROOT = [0x99, 0x66, 0x33, 255];
const RED = [0x00, 0x33, 0xcc, 255];

/** Keeps only the newest frame; resolves `next(n)` after n more frames. */
function latest(stream) {
  let last = null;
  let count = 0;
  stream.on('frame', (f) => {
    last?.release();
    last = f;
    count++;
  });
  return {
    get frame() {
      return last;
    },
    async next(n = 2) {
      const target = count + n;
      await waitFor(() => count >= target, 5000, `${n} more frames`);
      return last;
    },
    release() {
      last?.release();
      last = null;
    },
  };
}

x11Test('enumerate lists the X display and the test windows with title, class, pid and geometry', async (t) => {
  const win = await openWindow(t, 'miniav node window', 'cc3300', 120, 140, 320, 240);
  const displays = (await screen.enumerateDisplays()).filter((d) => d.backend === 'x11');
  assert.equal(displays.length, 1);
  assert.deepEqual(displays[0].geometry, { x: 0, y: 0, width: 1920, height: 1080 });
  assert.equal(displays[0].isDefault, true);
  const found = (await screen.enumerateWindows()).find((w) => w.id === win.id);
  assert.ok(found, 'the test window is listed');
  assert.equal(found.name, 'miniav node window');
  assert.equal(found.className, 'MiniAVTest');
  assert.equal(found.processId, win.pid);
  assert.deepEqual(found.geometry, { x: 120, y: 140, width: 320, height: 240 });
});

x11Test('display and region capture return the known pixels', async (t) => {
  await openWindow(t, 'miniav red', 'cc3300', 100, 100, 400, 300);
  const display = (await screen.enumerateDisplays()).find((d) => d.backend === 'x11');
  const full = closeLater(t, await screen.open(display.id, { frameRate: 30 }));
  assert.deepEqual([full.format.width, full.format.height, full.format.pixelFormat], [1920, 1080, 'bgra']);
  const view = latest(full);
  await full.start();
  let f = await view.next();
  assert.deepEqual(bgra(f, 5, 5), ROOT);
  assert.deepEqual(bgra(f, 100, 100), RED);
  assert.deepEqual(bgra(f, 499, 399), RED);
  assert.deepEqual(bgra(f, 500, 400), ROOT);
  view.release();
  await full.close();

  // bgrx: the X server's bytes as they are (no pass over the pixels); the 4th byte is undefined.
  const raw = closeLater(t, await screen.open(display.id, { pixelFormat: 'bgrx', frameRate: 'max' }));
  await raw.start();
  const frames = await collect(raw, 3);
  f = frames[2];
  assert.equal(f.video.pixelFormat, 'bgrx');
  assert.deepEqual(bgra(f, 5, 5).slice(0, 3), ROOT.slice(0, 3));
  assert.deepEqual(bgra(f, 200, 200).slice(0, 3), RED.slice(0, 3));
  for (const each of frames) each.release();
  await raw.close();

  const region = closeLater(t, await screen.open({ region: { display: display.id, x: 480, y: 380, width: 40, height: 30 } }, { pixelFormat: 'rgba' }));
  assert.deepEqual([region.format.width, region.format.height], [40, 30]);
  await region.start();
  [f] = await collect(region, 1);
  const { data, stride } = f.video.planes[0];
  assert.deepEqual([...data.subarray(0, 4)], [0xcc, 0x33, 0x00, 255], 'rgba: the window at (480,380)');
  const p = 29 * stride + 39 * 4;
  assert.deepEqual([...data.subarray(p, p + 4)], [0x33, 0x66, 0x99, 255], 'rgba: the root at (519,409)');
  f.release();
});

x11Test('window capture follows a move and a resize, reports hiding, and ends when the window closes', async (t) => {
  const win = await openWindow(t, 'miniav follow', 'cc3300', 200, 200, 300, 200);
  const cam = closeLater(t, await screen.open({ window: win.id }, { frameRate: 60 }));
  assert.deepEqual([cam.format.width, cam.format.height], [300, 200]);
  const events = [];
  for (const e of ['format', 'paused', 'resumed', 'ended']) cam.on(e, (v) => events.push([e, v]));
  const view = latest(cam);
  await cam.start();
  let f = await view.next();
  assert.deepEqual(bgra(f, 299, 199), RED);
  await win.send('move 600 400');
  f = await view.next(3);
  assert.deepEqual(bgra(f, 0, 0), RED);
  await win.send('resize 160 120');
  await waitFor(() => events.some(([e]) => e === 'format'), 5000, 'format event');
  f = await view.next(3);
  assert.deepEqual([f.video.width, f.video.height], [160, 120]);
  assert.deepEqual([cam.format.width, cam.format.height], [160, 120]);
  assert.deepEqual(bgra(f, 159, 119), RED);
  await win.send('unmap');
  await waitFor(() => events.some(([e]) => e === 'paused'), 5000, 'paused event');
  await win.send('map');
  await waitFor(() => events.some(([e]) => e === 'resumed'), 5000, 'resumed event');
  view.release();
  await win.close();
  await waitFor(() => events.some(([e]) => e === 'ended'), 5000, 'ended event');
  const ended = events.find(([e]) => e === 'ended')[1];
  assert.equal(ended.reason, 'source-ended');
  assert.equal(ended.code, 'MINIAV_ERROR_DEVICE_LOST');
  assert.match(ended.message, /closed/);
  assert.equal(cam.running, false);
});

x11Test('cursor: composited pixels and metadata', async (t) => {
  // Xvfb keeps the pointer in the middle of the screen.
  const area = { region: { display: 'x11:root', x: 930, y: 510, width: 60, height: 60 } };
  const count = async (cursor) => {
    const s = closeLater(t, await screen.open(area, { cursor }));
    await s.start();
    const [f] = await collect(s, 1);
    let differ = 0;
    for (let y = 0; y < 60; y++) for (let x = 0; x < 60; x++) differ += bgra(f, x, y).join() !== ROOT.join();
    const cur = f.video.cursor;
    const meta = cur && { visible: cur.visible, x: cur.x, y: cur.y, bytes: cur.image.byteLength, w: cur.width, h: cur.height };
    f.release();
    await s.close();
    return { differ, meta };
  };
  const none = await count('none');
  const drawn = await count('composite');
  const meta = await count('metadata');
  assert.equal(none.differ, 0);
  assert.ok(drawn.differ > 10, `composited cursor changed ${drawn.differ} pixels`);
  assert.equal(meta.differ, 0, 'metadata leaves the pixels alone');
  assert.equal(meta.meta.visible, true);
  assert.deepEqual([meta.meta.x, meta.meta.y], [30, 30]);
  assert.equal(meta.meta.bytes, meta.meta.w * meta.meta.h * 4);
});

x11Test('skipUnchanged delivers frames only when the screen changes', async (t) => {
  const win = await openWindow(t, 'miniav damage', '00cc66', 1400, 800, 100, 100);
  const s = closeLater(t, await screen.open('x11:root', { frameRate: 100, skipUnchanged: true }));
  const view = latest(s);
  await s.start();
  await view.next(1);
  await new Promise((r) => setTimeout(r, 300));
  const still = s.stats;
  assert.ok(still.delivered <= 3, `still screen delivered ${still.delivered}`);
  assert.ok(still.skipped >= 10, `skipped ${still.skipped}`);
  await win.send('color ff00ff');
  const f = await view.next(1);
  assert.deepEqual(bgra(f, 1450, 850), [0xff, 0x00, 0xff, 255]);
  view.release();
});

x11Test('bad window ids, regions, sizes and options give clear errors', async () => {
  const code = (expected) => (e) => e instanceof MiniAVError && e.code === expected && e.message.length > 15;
  await assert.rejects(screen.open({ window: 'x11:window:0x1' }), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
  await assert.rejects(screen.open({ window: 'x11:window:banana' }), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
  await assert.rejects(screen.open('x11:monitor:nowhere'), code('MINIAV_ERROR_DEVICE_NOT_FOUND'));
  await assert.rejects(screen.open({ region: { display: 'x11:root', x: 1900, y: 0, width: 100, height: 10 } }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(screen.open({ region: { display: 'x11:root', x: 0, y: 0, width: 0, height: 10 } }), code('MINIAV_ERROR_INVALID_ARG'));
  await assert.rejects(screen.open('x11:root', { width: 1280, height: 720 }), code('MINIAV_ERROR_NOT_SUPPORTED'));
  await assert.rejects(screen.open('x11:root', { pixelFormat: 'nv12' }), code('MINIAV_ERROR_FORMAT_NOT_SUPPORTED'));
  await assert.rejects(screen.open('x11:root', { cursor: 'sparkle' }), code('MINIAV_ERROR_INVALID_ARG'));
});

x11Test('windows that appear and go away are reported as device changes', async (t) => {
  const changes = [];
  const stop = screen.watchDevices((c) => changes.push(c), { intervalMs: 50 });
  t.after(stop);
  const win = await openWindow(t, 'miniav watched', '123456', 30, 30, 60, 60);
  await waitFor(() => changes.some((c) => c.type === 'added' && c.device.id === win.id), 5000, 'added event');
  assert.equal(changes.find((c) => c.device.id === win.id).device.name, 'miniav watched');
  await win.close();
  await waitFor(() => changes.some((c) => c.type === 'removed' && c.device.id === win.id), 5000, 'removed event');
  assert.throws(() => screen.watchDevices(() => {}, { intervalMs: 1 }), (e) => e instanceof MiniAVError && e.code === 'MINIAV_ERROR_INVALID_ARG');
});
