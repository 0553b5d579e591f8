// The miniav command, checked with ffprobe and by reading the files it writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';

const bin = fileURLToPath(new URL('../bin/miniav.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'miniav-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function miniav(args, env = {}) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60000 });
}

function ffprobe(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ffprobe failed (is ffmpeg installed? scripts/install-test-deps.sh installs it): ${r.stderr}`);
  return JSON.parse(r.stdout).streams[0];
}

test('devices lists every type, as a table or JSON', () => {
  const json = miniav(['devices', '--json'], { MINIAV_FAKE_DEVICES: '1' });
  assert.equal(json.status, 0, json.stderr);
  const list = JSON.parse(json.stdout);
  for (const type of ['camera', 'screen', 'audio', 'loopback']) assert.ok(list[type].some((d) => d.id === 'test-pattern' && d.backend === 'test-pattern'), type);
  assert.deepEqual(list.window.filter((d) => d.backend === 'test-pattern'), []);
  const tableOut = miniav(['devices'], { MINIAV_FAKE_DEVICES: '1' });
  assert.match(tableOut.stdout, /^TYPE\s+ID\s+NAME/m);
  assert.match(tableOut.stdout, /^loopback\s+test-pattern/m);
  // No real devices either: no X display, no sound server.
  const none = miniav(['devices'], { MINIAV_FAKE_DEVICES: '0', DISPLAY: '', PULSE_SERVER: 'unix:/nonexistent/miniav' });
  assert.match(none.stdout, /MINIAV_FAKE_DEVICES=1/);
});

test('formats lists what a device offers', () => {
  const r = miniav(['formats', 'camera', 'test-pattern', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).some((f) => f.width === 3840 && f.pixelFormat === 'i420'));
});

for (const pixelFormat of ['i420', 'nv12', 'bgra', 'yuyv']) {
  test(`capture writes a Y4M (${pixelFormat}) that ffprobe reads with the right size and frame count`, () => {
    const out = join(dir, `tp-${pixelFormat}.y4m`);
    const r = miniav(['capture', 'camera', 'test-pattern', '--width', '320', '--height', '180', '--pixel-format', pixelFormat, '--fps', '60', '--frames', '12', '-o', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const stats = JSON.parse(r.stdout);
    assert.equal(stats.frames, 12);
    const s = ffprobe(out);
    assert.equal(s.codec_name, 'rawvideo');
    assert.deepEqual([s.width, s.height, Number(s.nb_read_frames)], [320, 180, 12]);
    assert.equal(s.r_frame_rate, '60/1');
    const expectedPix = { i420: 'yuv420p', nv12: 'yuv420p', bgra: 'yuv444p', yuyv: 'yuv422p' }[pixelFormat];
    assert.equal(s.pix_fmt, expectedPix);
  });
}

test('capture writes a WAV of exactly the requested length', () => {
  const out = join(dir, 'tone.wav');
  const r = miniav(['capture', 'audio', 'test-pattern', '--rate', '44100', '--channels', '1', '--sample-format', 's16', '--duration', '1.25', '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  const s = ffprobe(out);
  assert.deepEqual([s.codec_name, s.sample_rate, s.channels], ['pcm_s16le', '44100', 1]);
  assert.equal(Number(s.duration_ts), 55125);
  // The samples are the 440 Hz tone: the 441st sample after a rising zero crossing is near zero again.
  const data = readFileSync(out).subarray(44);
  assert.equal(data.length, 55125 * 2);
  const sample = (i) => data.readInt16LE(i * 2) / 32767;
  assert.ok(Math.abs(sample(100) - 0.5 * Math.sin((2 * Math.PI * 440 * 100) / 44100)) < 1e-4);
  const f32 = join(dir, 'tone-f32.wav');
  const r2 = miniav(['capture', 'loopback', 'test-pattern', '--frames', '10', '--buffer-frames', '256', '-o', f32]);
  assert.equal(r2.status, 0, r2.stderr);
  const s2 = ffprobe(f32);
  assert.deepEqual([s2.codec_name, s2.sample_rate, s2.channels, Number(s2.duration_ts)], ['pcm_f32le', '48000', 2, 2560]);
});

test('capture writes .raw frames exactly as delivered, planes packed', () => {
  const out = join(dir, 'frames.raw');
  const r = miniav(['capture', 'camera', 'test-pattern', '--width', '100', '--height', '50', '--pixel-format', 'i420', '--fps', '60', '--frames', '5', '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  const raw = readFileSync(out);
  const frame = 100 * 50 + 2 * 50 * 25;
  assert.equal(raw.length, 5 * frame);
  const seqs = [];
  for (let i = 0; i < 5; i++) seqs.push(raw.readUInt32LE(i * frame));
  assert.deepEqual(seqs, [0, 1, 2, 3, 4]);
  // Luma of the first bar (RGB 235,235,235 through integer BT.601) at column 10 of row 0, frame 0.
  assert.equal(raw[10], ((66 * 235 + 129 * 235 + 25 * 235 + 128) >> 8) + 16);
  // To stdout.
  const piped = spawnSync(process.execPath, [bin, 'capture', 'audio', 'test-pattern', '--frames', '3', '--channels', '1', '-o', '-'], { timeout: 60000 });
  assert.equal(piped.status, 0, String(piped.stderr));
  assert.equal(piped.stdout.length, 3 * 480 * 4);
});

test('capture writes a PNG of one frame with the pattern colours', () => {
  const out = join(dir, 'region.png');
  const r = miniav(['capture', 'screen', 'test-pattern', '--region', '200,0,80,4', '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  const png = readFileSync(out);
  assert.equal(png.toString('latin1', 1, 4), 'PNG');
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [80, 4]);
  // Decode the single IDAT (filter 0 rows) and check row 3: x < 40 is white, x >= 40 yellow.
  const idatLen = png.readUInt32BE(33);
  const rows = inflateSync(png.subarray(41, 41 + idatLen));
  const px = (x) => [...rows.subarray(3 * 241 + 1 + x * 3, 3 * 241 + 4 + x * 3)];
  assert.deepEqual(px(10), [235, 235, 235]);
  assert.deepEqual(px(60), [235, 235, 16]);
  assert.equal(ffprobe(out).width, 80);
});

test('bad input: clear errors and non-zero exit codes', () => {
  const notFound = miniav(['capture', 'camera', 'nope', '-o', join(dir, 'x.y4m')]);
  assert.equal(notFound.status, 1);
  assert.match(notFound.stderr, /MINIAV_ERROR_DEVICE_NOT_FOUND/);
  const badSize = miniav(['capture', 'camera', 'test-pattern', '--width', '9000', '--height', '10', '-o', join(dir, 'x.y4m')]);
  assert.equal(badSize.status, 1);
  assert.match(badSize.stderr, /larger than the test pattern's maximum/);
  const badExt = miniav(['capture', 'camera', 'test-pattern', '-o', join(dir, 'x.mp4')]);
  assert.equal(badExt.status, 2);
  assert.match(badExt.stderr, /\.y4m, \.wav, \.png or \.raw/);
  const wrongKind = miniav(['capture', 'audio', 'test-pattern', '-o', join(dir, 'x.y4m')]);
  assert.equal(wrongKind.status, 2);
  assert.equal(miniav(['capture', 'camera', 'test-pattern']).status, 2);
  assert.equal(miniav(['frobnicate']).status, 2);
  assert.equal(miniav(['capture', 'teapot', 'x', '-o', 'y.raw']).status, 2);
  assert.equal(miniav(['capture', 'camera', 'test-pattern', '--frames', '-3', '-o', join(dir, 'x.raw')]).status, 2);
  assert.equal(miniav(['--bogus']).status, 2);
  assert.equal(miniav(['--help']).status, 0);
});
