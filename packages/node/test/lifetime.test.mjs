// The safety nets: a forgotten frame is released by garbage collection (with one
// warning per stream), and the one-copy path used where external buffers are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// A file: URL, not a path: an absolute Windows path is not an ESM specifier.
const api = new URL('../dist/index.js', import.meta.url).href;

function runChild(source, { env = {}, args = [] } = {}) {
  const r = spawnSync(process.execPath, [...args, '--input-type=module', '-e', source], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

test('frames that are never released are reclaimed by GC and warned about once', () => {
  const r = runChild(
    `
    import { camera } from ${JSON.stringify(api)};
    const cam = await camera.open('test-pattern', { width: 64, height: 48, frameRate: 'max', poolSize: 4 });
    let got = 0;
    cam.on('frame', () => { got++; }); // never released
    await cam.start();
    for (let round = 0; round < 5; round++) {
      const before = got;
      await new Promise((r) => setTimeout(r, 100));
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 50));
      if (round > 0 && got <= before) throw new Error('stream stalled: forgotten frames were not reclaimed');
    }
    await cam.close();
    console.log(JSON.stringify({ got, held: cam.stats.held }));
    `,
    { args: ['--expose-gc'] },
  );
  const out = JSON.parse(r.stdout.trim());
  assert.ok(out.got > 8, `frames kept flowing after GC (${out.got})`);
  const warnings = r.stderr.split('\n').filter((l) => l.includes('MINIAV_FRAME_NOT_RELEASED'));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0], /camera stream 'test-pattern'/);
});

test('where external buffers are refused, frames are copied once and counted', () => {
  const r = runChild(
    `
    import { camera } from ${JSON.stringify(api)};
    const cam = await camera.open('test-pattern', { width: 64, height: 48, pixelFormat: 'bgra', frameRate: 200 });
    const out = [];
    cam.on('frame', (f) => {
      const d = f.video.planes[0].data;
      out.push({ copied: f.copied, seq: f.sequence, stamped: d[0] | (d[1] << 8), len: d.byteLength });
      f.release();
      if (out.length === 20) cam.close().then(() => console.log(JSON.stringify({ out, stats: cam.stats })));
    });
    await cam.start();
    `,
    { env: { MINIAV_FORCE_COPY: '1' } },
  );
  const { out, stats } = JSON.parse(r.stdout.trim());
  assert.ok(out.every((f) => f.copied && f.seq === f.stamped && f.len === 64 * 48 * 4));
  assert.equal(stats.copies, stats.delivered, 'one copy per delivered frame');
  assert.ok(stats.copies >= 20);
  assert.equal(stats.held, 0);
});
