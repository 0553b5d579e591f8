// Capture inside worker_threads, and a worker terminated mid-stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

const workerSource = `
import { parentPort, workerData } from 'node:worker_threads';
const { camera } = await import(workerData.api);
const cam = await camera.open('test-pattern', { width: 64, height: 48, frameRate: 200, poolSize: 16, maxQueued: 12 });
const seqs = [];
let bad = 0;
cam.on('frame', (f) => {
  const d = f.video.planes[0].data;
  if ((d[0] | (d[1] << 8)) !== f.sequence) bad++;
  seqs.push(f.sequence);
  f.release();
  if (seqs.length === workerData.frames) {
    cam.close().then(() => parentPort.postMessage({ seqs, bad, stats: cam.stats }));
  }
});
await cam.start();
if (workerData.forever) parentPort.postMessage('started');
`;

const api = new URL('../dist/index.js', import.meta.url).href;

function runWorker(data) {
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(workerSource)}`), { workerData: { api, ...data } });
}

test('a worker thread captures frames in order', async () => {
  const w = runWorker({ frames: 40 });
  const result = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  assert.deepEqual(result.seqs, Array.from({ length: 40 }, (_, i) => i));
  assert.equal(result.bad, 0);
  assert.equal(result.stats.held, 0);
  await w.terminate();
});

test('terminating a worker while it captures does not crash the process', async () => {
  for (let i = 0; i < 3; i++) {
    const w = runWorker({ frames: 1e9, forever: true });
    await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, 50));
    const code = await w.terminate();
    assert.equal(code, 1);
  }
});
