// The three ways a page gets 1280x720 camera frames into JavaScript memory, run inside
// Chromium by bench/web.mjs (this file is bundled with @miniav/web by esbuild). Each case
// copies `frames` frames and says how many the camera produced meanwhile.

import { camera } from '@miniav/web';

const W = 1280;
const H = 720;

async function gum() {
  const s = await navigator.mediaDevices.getUserMedia({ video: { width: W, height: H, frameRate: 30 } });
  return s.getVideoTracks()[0];
}

/** requestAnimationFrame + canvas drawImage(video) + getImageData: what the seed did. */
async function canvasCase(frames) {
  const track = await gum();
  const video = document.createElement('video');
  video.muted = true;
  video.srcObject = new MediaStream([track]);
  await video.play();
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  // The camera's own count of frames it presented (the ones there were to copy).
  let presented0 = -1;
  let presented = 0;
  const onFrame = (_t, meta) => {
    if (presented0 < 0) presented0 = meta.presentedFrames;
    presented = meta.presentedFrames - presented0 + 1;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  let copied = 0;
  let missed = 0;
  let last = 0;
  let checksum = 0;
  await new Promise((resolve) => {
    const tick = () => {
      if (presented > last) {
        // Frames the camera presented since the last animation frame, but one, were never copied.
        missed += presented - last - 1;
        last = presented;
        ctx.drawImage(video, 0, 0, W, H);
        checksum += ctx.getImageData(0, 0, W, H).data[W * 4 * 100 + 400];
        copied++;
      }
      if (copied >= frames) resolve();
      else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  track.stop();
  return { copied, produced: copied + missed, missed, checksum };
}

/** MediaStreamTrackProcessor + VideoFrame.copyTo into one reused buffer: the limit. */
async function bareCase(frames) {
  const track = await gum();
  const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
  let buffer = null;
  let copied = 0;
  let checksum = 0;
  let firstTs = -1;
  let lastTs = 0;
  let gaps = 0;
  let period = 0;
  while (copied < frames) {
    const { value: vf } = await reader.read();
    if (buffer === null) buffer = new Uint8Array(vf.allocationSize());
    await vf.copyTo(buffer);
    checksum += buffer[W * 100 + 400];
    if (firstTs < 0) firstTs = vf.timestamp;
    else {
      const dt = vf.timestamp - lastTs;
      if (period === 0) period = dt;
      if (dt > 1.5 * period) gaps += Math.round(dt / period) - 1;
    }
    lastTs = vf.timestamp;
    vf.close();
    copied++;
  }
  await reader.cancel();
  track.stop();
  return { copied, produced: copied + gaps, missed: gaps, checksum };
}

/** @miniav/web: camera.open + frames(), 'cpu' (one copyTo into a pooled buffer), release(). */
async function miniavCase(frames) {
  const [dev] = await camera.enumerateDevices();
  const cam = await camera.open(dev.id, { width: W, height: H, frameRate: 30 });
  let copied = 0;
  let checksum = 0;
  let first = -1;
  let last = 0;
  for await (const f of cam.frames()) {
    checksum += f.video.planes[0].data[W * 100 + 400];
    if (first < 0) first = f.sequence;
    last = f.sequence;
    f.release();
    if (++copied >= frames) break;
  }
  const stats = cam.stats;
  await cam.close();
  return { copied, produced: last - first + 1, missed: last - first + 1 - copied, dropped: stats.dropped, copies: stats.copies, checksum };
}

window.benchCases = { canvas: canvasCase, bare: bareCase, miniav: miniavCase };
window.benchReady = true;
