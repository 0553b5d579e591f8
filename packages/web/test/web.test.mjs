// @miniav/web in real headless Chromium (Debian's, driven by playwright-core): a fake camera
// playing a Y4M of known pixels, a fake microphone playing a WAV of a known tone, the real
// screen of an Xvfb with a known root colour. Every check is on content, never on timing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, openPage, serve, bundlePage, PAGE_HTML, writeY4M, writeWav, tempDir, rigMissing, startScreenRig } from './helpers.mjs';

const missing = rigMissing();
const TONE = 440;

describe('@miniav/web with a fake camera and microphone', { skip: missing ?? false }, () => {
  let browser, server, page, errors;
  before(async () => {
    const dir = tempDir();
    writeY4M(join(dir, 'camera.y4m'));
    writeWav(join(dir, 'mic.wav'), TONE);
    server = await serve({ '/': ['text/html', PAGE_HTML], '/bundle.js': ['text/javascript', await bundlePage()] });
    browser = await launch({ video: join(dir, 'camera.y4m'), audio: join(dir, 'mic.wav') });
    ({ page, errors } = await openPage(browser, server.url));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    assert.deepEqual(errors ?? [], [], 'no uncaught errors in the page');
  });

  test('cameras and microphones are enumerated with the page allowed to see them', async () => {
    const r = await page.evaluate(async () => ({ cams: await miniav.camera.enumerateDevices(), mics: await miniav.audio.enumerateDevices() }));
    assert.equal(r.cams.length, 1);
    assert.match(r.cams[0].name, /camera\.y4m$/);
    assert.ok(r.cams[0].id.length > 0);
    assert.equal(r.cams[0].isDefault, true);
    assert.ok(r.mics.length >= 1);
    assert.equal(r.mics.filter((d) => d.isDefault).length, 1);
  });

  for (const backend of ['track-processor', 'video-frame-callback']) {
    test(`camera frames (${backend}, cpu) carry the Y4M's pixels, copied once into pooled buffers`, async () => {
      const r = await page.evaluate(async (backend) => {
        const [dev] = await miniav.camera.enumerateDevices();
        const cam = await miniav.camera.open(dev.id, { width: 640, height: 480, frameRate: 30, backend });
        const out = { format: cam.format, backend: cam.backend, frames: [] };
        for await (const f of cam.frames()) {
          const [y, u, v] = f.video.planes;
          const W = f.video.width;
          out.frames.push({
            type: f.type, contentType: f.contentType, copied: f.copied, ts: f.timestampUs, now: miniav.now(), seq: f.sequence,
            width: f.video.width, height: f.video.height, pixelFormat: f.video.pixelFormat, strides: f.video.planes.map((p) => p.stride),
            strip: y.data[8 * y.stride + 8], left: y.data[240 * y.stride + 100], right: y.data[240 * y.stride + 500],
            uLeft: u.data[120 * u.stride + 50], uRight: u.data[120 * u.stride + 250], vRight: v.data[120 * v.stride + 250], W,
          });
          f.release();
          if (out.frames.length === 8) break;
        }
        out.stats = cam.stats;
        await cam.close();
        return out;
      }, backend);
      assert.equal(r.backend, backend);
      assert.deepEqual([r.format.width, r.format.height, r.format.pixelFormat], [640, 480, 'i420']);
      const strips = new Set();
      let lastTs = -Infinity, lastSeq = -1;
      for (const f of r.frames) {
        assert.equal(f.type, 'video');
        assert.equal(f.contentType, 'cpu');
        assert.deepEqual([f.width, f.height, f.pixelFormat], [640, 480, 'i420']);
        assert.deepEqual(f.strides, [640, 320, 320]);
        assert.ok(Math.abs(f.left - 128) <= 3, `left half luma ${f.left}`);
        assert.ok(Math.abs(f.right - 81) <= 3, `right half luma ${f.right}`);
        assert.ok(Math.abs(f.uLeft - 128) <= 3 && Math.abs(f.uRight - 90) <= 3 && Math.abs(f.vRight - 240) <= 3, 'chroma');
        const n = (f.strip - 16) / 20;
        assert.ok(Math.abs(n - Math.round(n)) < 0.2 && n > -0.2 && n < 9.2, `frame-number strip ${f.strip}`);
        strips.add(Math.round(n));
        assert.ok(f.ts > lastTs, 'timestamps increase');
        assert.ok(f.seq > lastSeq, 'sequence increases');
        assert.ok(f.ts <= f.now, 'timestamps are on the now() clock, not in the future');
        lastTs = f.ts;
        lastSeq = f.seq;
      }
      assert.ok(strips.size >= 2, 'the frames are different frames of the file');
      assert.equal(r.stats.held, 0);
      assert.equal(r.stats.copies, r.stats.delivered);
    });
  }

  test("pixelFormat 'rgba' converts in copyTo: grey left, red right", async () => {
    const r = await page.evaluate(async () => {
      const [dev] = await miniav.camera.enumerateDevices();
      const cam = await miniav.camera.open(dev.id, { width: 640, height: 480, pixelFormat: 'rgba' });
      const it = cam.frames();
      const { value: f } = await it.next();
      const p = f.video.planes[0];
      const px = (x, y) => Array.from(p.data.subarray(y * p.stride + x * 4, y * p.stride + x * 4 + 4));
      const out = { pixelFormat: f.video.pixelFormat, planes: f.video.planes.length, stride: p.stride, left: px(100, 240), right: px(500, 240), format: cam.format.pixelFormat };
      f.release();
      await cam.close();
      return out;
    });
    assert.deepEqual([r.pixelFormat, r.format, r.planes, r.stride], ['rgba', 'rgba', 1, 640 * 4]);
    for (const c of r.left.slice(0, 3)) assert.ok(Math.abs(c - 130) <= 8, `grey ${r.left}`);
    assert.ok(r.right[0] >= 235 && r.right[1] <= 20 && r.right[2] <= 20 && r.right[3] === 255, `red ${r.right}`);
  });

  test("output 'gpu' hands the VideoFrame itself; release() closes it", async () => {
    const r = await page.evaluate(async () => {
      const [dev] = await miniav.camera.enumerateDevices();
      const cam = await miniav.camera.open(dev.id, { output: 'gpu' });
      const it = cam.frames();
      const { value: f } = await it.next();
      const vf = f.videoFrame;
      const c = new OffscreenCanvas(vf.displayWidth, vf.displayHeight);
      const g = c.getContext('2d');
      g.drawImage(vf, 0, 0);
      const out = {
        contentType: f.contentType, isVideoFrame: vf instanceof VideoFrame, format: vf.format, planes: f.video.planes.length,
        width: f.video.width, right: Array.from(g.getImageData(500, 240, 1, 1).data), copied: f.copied,
      };
      f.release();
      out.afterRelease = { videoFrame: f.videoFrame, format: vf.format, released: f.released };
      await it.return();
      out.stats = cam.stats;
      await cam.close();
      return out;
    });
    assert.equal(r.contentType, 'gpu-videoframe');
    assert.equal(r.isVideoFrame, true);
    assert.equal(r.copied, false);
    assert.equal(r.planes, 0);
    assert.equal(r.width, 640);
    assert.ok(r.right[0] >= 235 && r.right[1] <= 20, `red ${r.right}`);
    assert.deepEqual(r.afterRelease, { videoFrame: null, format: null, released: true }, 'a closed VideoFrame has format null');
    assert.equal(r.stats.copies, 0);
  });

  test('release: idempotent, empties the frame, returns the buffer to the pool; held frames are never taken back', async () => {
    const r = await page.evaluate(async () => {
      const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
      const [dev] = await miniav.camera.enumerateDevices();
      const cam = await miniav.camera.open(dev.id, { poolSize: 2 });
      const held = [];
      const seen = [];
      cam.on('frame', (f) => {
        seen.push(f.video.planes[0].data.buffer);
        if (held.length < 2) held.push(f);
        else f.release();
      });
      await cam.start();
      while (held.length < 2) await sleep(20);
      const d0 = cam.stats.dropped;
      // Both pooled buffers are held: new frames are dropped (counted), the held ones stay intact.
      while (cam.stats.dropped < d0 + 3) await sleep(20);
      const out = { heldWhileFull: cam.stats.held, dataIntact: held.map((f) => f.video.planes[0].data.length), deliveredWhileFull: seen.length };
      const buffers = held.map((f) => f.video.planes[0].data.buffer);
      held[0].release();
      held[0].release();
      out.afterRelease = { released: held[0].released, planeLengths: held[0].video.planes.map((p) => p.data.length), held: cam.stats.held };
      const before = seen.length;
      while (seen.length < before + 3) await sleep(20);
      out.reused = seen.slice(before).every((b) => b === buffers[0]);
      await cam.stop();
      out.afterStop = { running: cam.running, held: cam.stats.held };
      await cam.close();
      held[1].release(); // after close: still a no-op, no throw
      try {
        await cam.start();
        out.startAfterClose = 'no error';
      } catch (e) {
        out.startAfterClose = e.code;
      }
      try {
        await cam.properties();
      } catch (e) {
        out.propertiesAfterClose = e.code;
      }
      return out;
    });
    assert.equal(r.heldWhileFull, 2);
    assert.deepEqual(r.dataIntact, [640 * 480, 640 * 480]);
    assert.deepEqual(r.afterRelease, { released: true, planeLengths: [0, 0, 0], held: 1 });
    assert.equal(r.reused, true, 'with one buffer free, every new frame reuses it');
    assert.deepEqual(r.afterStop, { running: false, held: 1 });
    assert.equal(r.startAfterClose, 'MINIAV_ERROR_STREAM_CLOSED');
    assert.equal(r.propertiesAfterClose, 'MINIAV_ERROR_STREAM_CLOSED');
  });

  test('frames nobody listens to are released at once and counted; an iterator behind drops by policy', async () => {
    const r = await page.evaluate(async () => {
      const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
      const [dev] = await miniav.camera.enumerateDevices();
      const cam = await miniav.camera.open(dev.id, { maxQueued: 2, dropPolicy: 'drop-oldest' });
      await cam.start();
      while (cam.stats.dropped < 2) await sleep(20);
      const unheard = { ...cam.stats };
      const it = cam.frames();
      const first = await it.next();
      first.value.release();
      await sleep(400); // the iterator does not read: frames queue (2 at most) and the oldest give way
      const s = cam.stats;
      const queued = [];
      for (let i = 0; i < 2; i++) {
        const { value } = await it.next();
        queued.push(value.sequence);
        value.release();
      }
      await cam.close();
      const end = await it.next();
      return { unheard, held: s.held, dropped: s.dropped - unheard.dropped, queued, end: end.done, finalHeld: cam.stats.held };
    });
    assert.equal(r.unheard.delivered, 0);
    assert.ok(r.unheard.dropped >= 2);
    assert.equal(r.held, 2, 'two frames wait in the iterator');
    assert.ok(r.dropped >= 2, 'the frames that did not fit were dropped and counted');
    assert.equal(r.queued[1], r.queued[0] + 1);
    assert.equal(r.end, true);
    assert.equal(r.finalHeld, 0);
  });

  for (const backend of ['track-processor', 'audio-worklet']) {
    test(`microphone (${backend}): float32 frames of the ${TONE} Hz tone, sample-accurate timestamps`, async () => {
      const r = await page.evaluate(async (backend) => {
        const mic = await miniav.audio.open('default', { backend });
        const chunks = [];
        let samples = [];
        let sr = 0, ch = 0;
        for await (const f of mic.frames()) {
          const a = f.audio;
          sr = a.sampleRate;
          ch = a.channels;
          chunks.push({ ts: f.timestampUs, n: a.frameCount, fmt: a.sampleFormat, isF32: a.data instanceof Float32Array, seq: f.sequence });
          for (let i = 0; i < a.frameCount; i++) samples.push(a.data[i * a.channels]);
          f.release();
          if (samples.length > sr * 0.6) break;
        }
        await mic.close();
        // Skip the first 100 ms (the fake device may start with silence). The frequency is the
        // median over 50 ms windows of interpolated rising zero crossings, so a dropout of the
        // fake device on a loaded machine spoils one window, not the measurement.
        samples = samples.slice(Math.round(sr * 0.1));
        let peak = 0;
        for (const v of samples) peak = Math.max(peak, Math.abs(v));
        const windowFreqs = [];
        const w = Math.round(sr * 0.05);
        for (let at = 0; at + w <= samples.length; at += w) {
          let first = -1, last = -1, n = 0;
          for (let i = at + 1; i < at + w; i++)
            if (samples[i - 1] < 0 && samples[i] >= 0) {
              const t = i - 1 + samples[i - 1] / (samples[i - 1] - samples[i]);
              if (first < 0) first = t;
              last = t;
              n++;
            }
          if (n > 1) windowFreqs.push(((n - 1) * sr) / (last - first));
        }
        windowFreqs.sort((a, b) => a - b);
        const freq = windowFreqs.length ? windowFreqs[windowFreqs.length >> 1] : 0;
        return { sr, ch, chunks, freq, peak, format: mic.format, backendName: mic.backend };
      }, backend);
      assert.equal(r.backendName, backend);
      assert.ok(Math.abs(r.freq - TONE) < 5, `measured ${r.freq} Hz`);
      assert.ok(r.peak > 0.3 && r.peak < 0.7, `peak ${r.peak}`);
      assert.equal(r.format.sampleFormat, 'f32');
      for (const c of r.chunks) assert.ok(c.isF32 && c.fmt === 'f32');
      for (let i = 1; i < r.chunks.length; i++) {
        const expected = (r.chunks[i - 1].n * 1e6) / r.sr;
        const dt = r.chunks[i].ts - r.chunks[i - 1].ts;
        assert.ok(Math.abs(dt - expected) <= 1, `chunk ${i}: ${dt} µs after the previous one, ${expected} expected from its sample count`);
        assert.equal(r.chunks[i].seq, r.chunks[i - 1].seq + 1);
      }
    });
  }

  test('errors: bad options and unknown devices give MiniAVError codes', async () => {
    const r = await page.evaluate(async () => {
      const code = async (fn) => {
        try {
          await fn();
          return 'no error';
        } catch (e) {
          return e instanceof miniav.MiniAVError ? e.code : `${e.name}: ${e.message}`;
        }
      };
      const [dev] = await miniav.camera.enumerateDevices();
      return {
        unknownCamera: await code(() => miniav.camera.open('no-such-camera')),
        badWidth: await code(() => miniav.camera.open(dev.id, { width: -1 })),
        badOutput: await code(() => miniav.camera.open(dev.id, { output: 'dma' })),
        yuyv: await code(() => miniav.camera.open(dev.id, { pixelFormat: 'yuyv' })),
        fourcc: await code(() => miniav.camera.open(dev.id, { fourcc: 'YUYV' })),
        badBackend: await code(() => miniav.camera.open(dev.id, { backend: 'v4l2' })),
        s16: await code(() => miniav.audio.open('default', { sampleFormat: 's16' })),
        region: await code(() => miniav.screen.open({ region: { display: 'display', x: 0, y: 0, width: 1, height: 1 } })),
        unknownScreen: await code(() => miniav.screen.open('monitor-7')),
        unknownLoopback: await code(() => miniav.loopback.open('process:1')),
        logLevel: await code(() => miniav.setLogLevel('loud')),
      };
    });
    assert.deepEqual(r, {
      unknownCamera: 'MINIAV_ERROR_FORMAT_NOT_SUPPORTED',
      badWidth: 'MINIAV_ERROR_INVALID_ARG',
      badOutput: 'MINIAV_ERROR_INVALID_ARG',
      yuyv: 'MINIAV_ERROR_FORMAT_NOT_SUPPORTED',
      fourcc: 'MINIAV_ERROR_FORMAT_NOT_SUPPORTED',
      badBackend: 'MINIAV_ERROR_BACKEND_UNAVAILABLE',
      s16: 'MINIAV_ERROR_FORMAT_NOT_SUPPORTED',
      region: 'MINIAV_ERROR_NOT_SUPPORTED',
      unknownScreen: 'MINIAV_ERROR_DEVICE_NOT_FOUND',
      unknownLoopback: 'MINIAV_ERROR_DEVICE_NOT_FOUND',
      logLevel: 'MINIAV_ERROR_INVALID_ARG',
    });
  });
});

describe("@miniav/web camera properties (Chromium's default fake camera)", { skip: missing ?? false }, () => {
  let browser, server, page;
  before(async () => {
    server = await serve({ '/': ['text/html', PAGE_HTML], '/bundle.js': ['text/javascript', await bundlePage()] });
    browser = await launch({});
    ({ page } = await openPage(browser, server.url));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('properties map to applyConstraints: list, set, get, automatic mode, range and name errors', async () => {
    const r = await page.evaluate(async () => {
      const code = async (fn) => {
        try {
          await fn();
          return 'no error';
        } catch (e) {
          return e.code ?? String(e);
        }
      };
      const [dev] = await miniav.camera.enumerateDevices();
      const cam = await miniav.camera.open(dev.id);
      const list = await cam.properties();
      const focus = list.find((p) => p.name === 'focus');
      const out = { names: list.map((p) => p.name), focus };
      if (focus) {
        const target = focus.min + focus.step * 2;
        await cam.setProperty('focus', target);
        out.afterSet = await cam.getProperty('focus');
        out.target = target;
        // Chromium's fake camera lists a continuous focus mode but never switches to it.
        out.autoCode = await code(() => cam.setPropertyAuto('focus', true));
        out.afterAuto = await cam.getProperty('focus');
        out.outOfRange = await code(() => cam.setProperty('focus', focus.max + 1000));
        out.badValue = await code(() => cam.setProperty('focus', 'near'));
      }
      out.unknown = await code(() => cam.getProperty('no-such-property'));
      out.emptyName = await code(() => cam.getProperty(''));
      await cam.close();
      return out;
    });
    // Chromium's fake camera offers exposure and focus (manual/continuous); it has no zoom.
    assert.ok(r.names.includes('exposure') && r.names.includes('focus'), `properties: ${r.names}`);
    assert.equal(r.focus.hasAuto, true);
    assert.ok(r.focus.min < r.focus.max);
    assert.deepEqual(r.afterSet, { value: r.target, auto: false });
    if (r.autoCode === 'no error') assert.equal(r.afterAuto.auto, true);
    else assert.deepEqual([r.autoCode, r.afterAuto.auto], ['MINIAV_ERROR_NOT_SUPPORTED', false], 'a mode the camera did not take is an error');
    assert.equal(r.outOfRange, 'MINIAV_ERROR_INVALID_ARG');
    assert.equal(r.badValue, 'MINIAV_ERROR_INVALID_ARG');
    assert.equal(r.unknown, 'MINIAV_ERROR_NOT_SUPPORTED');
    assert.equal(r.emptyName, 'MINIAV_ERROR_INVALID_ARG');
  });
});

// getDisplayMedia of a real X screen needs Xvfb (scripts/rigs/chromium.sh starts it).
let screenMissing = missing;
if (!screenMissing) {
  const { existsSync } = await import('node:fs');
  if (!existsSync('/usr/bin/Xvfb')) screenMissing = 'Xvfb is missing (apt-get install xvfb x11-xserver-utils x11-utils)';
  if (screenMissing && process.env.MINIAV_REQUIRE_RIGS) throw new Error(`screen rig required: ${screenMissing}`);
}

describe('@miniav/web screen capture of an Xvfb screen', { skip: screenMissing ?? false }, () => {
  let browser, server, page, rig;
  before(async () => {
    rig = startScreenRig();
    server = await serve({ '/': ['text/html', PAGE_HTML], '/bundle.js': ['text/javascript', await bundlePage()] });
    browser = await launch({ screen: true, display: rig.display });
    ({ page } = await openPage(browser, server.url));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rig?.stop();
  });

  test("screen.open('display') gives the root window's colour at full size", async () => {
    const r = await page.evaluate(async () => {
      const s = await miniav.screen.open('display', { width: 1920, height: 1080, pixelFormat: 'bgra' });
      const it = s.frames();
      const { value: f } = await it.next();
      const p = f.video.planes[0];
      const px = (x, y) => Array.from(p.data.subarray(y * p.stride + x * 4, y * p.stride + x * 4 + 4));
      const out = { w: f.video.width, h: f.video.height, pf: f.video.pixelFormat, points: [px(10, 10), px(400, 300), px(1500, 900), px(1900, 1070)], type: s.type, displays: await miniav.screen.enumerateDisplays() };
      f.release();
      await s.close();
      return out;
    });
    assert.deepEqual([r.w, r.h, r.pf, r.type], [1920, 1080, 'bgra', 'screen']);
    // root #336699 in BGRA (a few levels off after the capturer's colour conversion); the
    // pointer sits at the centre of the screen, so the points avoid it
    for (const [b, g, rr] of r.points) assert.ok(Math.abs(b - 0x99) <= 6 && Math.abs(g - 0x66) <= 6 && Math.abs(rr - 0x33) <= 6, `pixel ${[b, g, rr]}`);
    assert.deepEqual(r.displays.map((d) => d.id), ['display', 'tab']);
  });

  test('screen audio and system loopback say NOT_SUPPORTED where Chromium shares no system sound (Linux)', async () => {
    const r = await page.evaluate(async () => {
      const code = async (fn) => {
        try {
          const s = await fn();
          await s.close();
          return 'no error';
        } catch (e) {
          return e.code ?? String(e);
        }
      };
      return { screenAudio: await code(() => miniav.screen.open('display', { audio: true })), loopback: await code(() => miniav.loopback.open('system')), targets: await miniav.loopback.enumerateTargets() };
    });
    assert.deepEqual([r.screenAudio, r.loopback], ['MINIAV_ERROR_NOT_SUPPORTED', 'MINIAV_ERROR_NOT_SUPPORTED']);
    assert.deepEqual(r.targets.map((t) => t.id), ['system', 'tab']);
  });
});
