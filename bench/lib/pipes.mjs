// Readers for a child's pipes, shared by the benchmarks that compare MiniAV with a
// child process (ffmpeg, gst-launch, v4l2-ctl) writing raw frames or text to a pipe.

/**
 * A 'data' handler that re-assembles fixed-size frames into `frame` (a Buffer of the frame's
 * size, reused for every frame: the one copy every pipe reader needs) and calls onFrame()
 * once per whole frame.
 */
export function frameReader(frame, onFrame) {
  let filled = 0;
  return (chunk) => {
    let pos = 0;
    while (pos < chunk.length) {
      const n = Math.min(chunk.length - pos, frame.length - filled);
      chunk.copy(frame, filled, pos, pos + n);
      filled += n;
      pos += n;
      if (filled === frame.length) {
        filled = 0;
        onFrame();
      }
    }
  };
}

/** A 'data' handler that calls onLine(line) per whole line (a partial last line waits for the next chunk). */
export function lineReader(onLine) {
  let partial = '';
  return (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    for (const line of lines) onLine(line);
  };
}
