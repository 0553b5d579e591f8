// "What Node users do today": a separate process produces raw frames and
// writes them to stdout; the consumer reads them back from the pipe.
// Here the producer is the MiniAV test pattern (zero-copy inside this process),
// so the only difference from the in-process row is the pipe.
// On SIGTERM it prints its MiniAV stats as one JSON line on stderr.
import { camera } from '../packages/node/dist/index.js';
import { WIDTH, HEIGHT, FRAME_BYTES } from './lib/measure.mjs';

const cam = await camera.open('test-pattern', { width: WIDTH, height: HEIGHT, pixelFormat: 'bgra', frameRate: 'max' });
let waitingForDrain = false;
let written = 0;
// Frames waiting for the pipe. Holding them (instead of dropping them here)
// is the backpressure: once the pool's buffers are all held, the source
// stops generating and counts drops, so no CPU goes into frames nobody sends.
const pending = [];

function pump() {
  while (!waitingForDrain && pending.length > 0) {
    const f = pending.shift();
    // The native buffer must stay alive until the kernel has taken the bytes,
    // so release in the write callback, not now.
    const ok = process.stdout.write(f.video.planes[0].data.subarray(0, FRAME_BYTES), () => f.release());
    written++;
    if (!ok) waitingForDrain = true;
  }
}

process.stdout.on('drain', () => {
  waitingForDrain = false;
  pump();
});
// The reader went away: nothing left to do.
process.stdout.on('error', () => process.exit(0));

cam.on('frame', (f) => {
  const plane = f.video.planes[0];
  if (plane.stride !== WIDTH * 4 || plane.data.length < FRAME_BYTES) throw new Error('unexpected frame layout');
  pending.push(f);
  pump();
});

process.on('SIGTERM', async () => {
  await cam.stop();
  const stats = cam.stats;
  await cam.close();
  process.stderr.write(JSON.stringify({ written, stats }) + '\n');
  process.exit(0);
});

await cam.start();
