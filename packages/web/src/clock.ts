/**
 * MiniAV's clock in the browser: microseconds of `performance.now()` (the page's time origin),
 * `now() === Math.round(performance.now() * 1000)`. Every frame's `timestampUs` is on it:
 * a source's own timestamps (VideoFrame.timestamp, AudioData.timestamp) are mapped with one
 * offset per stream, fixed when its first frame arrives, so the spacing between frames is the
 * source's own (sample-accurate for audio) and the first frame's timestamp is its arrival time.
 */
export function now(): number {
  return Math.round(performance.now() * 1000);
}
