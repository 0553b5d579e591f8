// Frame sources for browsers without MediaStreamTrackProcessor (Firefox, Safari).
import { now } from './clock.js';
import { notSupported } from './errors.js';

/** @internal A running frame source. */
export interface SourceHandle {
  stop(): void;
}

interface FrameCallbackMetadata {
  presentationTime: number;
  expectedDisplayTime: number;
  mediaTime: number;
  captureTime?: number;
}

type VideoWithCallback = HTMLVideoElement & {
  requestVideoFrameCallback(cb: (now: number, meta: FrameCallbackMetadata) => void): number;
  cancelVideoFrameCallback(handle: number): void;
};

/**
 * Video through a muted, detached <video> element: each new frame (requestVideoFrameCallback)
 * is wrapped as `new VideoFrame(video)`. Timestamps: the frame's capture time where the browser
 * gives it, else its presentation time; both are on the performance.now() clock.
 */
export function startVideoElement(track: MediaStreamTrack, onFrame: (vf: VideoFrame, timestampUs: number) => void, onError: (e: unknown) => void): SourceHandle {
  if (typeof document === 'undefined') throw notSupported('video capture without MediaStreamTrackProcessor needs a document (a <video> element): open the stream on the main thread');
  const video = document.createElement('video') as VideoWithCallback;
  if (typeof video.requestVideoFrameCallback !== 'function') throw notSupported('this browser has neither MediaStreamTrackProcessor nor requestVideoFrameCallback');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  let stopped = false;
  let handle = 0;
  const onVideoFrame = (_now: number, meta: FrameCallbackMetadata): void => {
    if (stopped) return;
    handle = video.requestVideoFrameCallback(onVideoFrame);
    const ms = meta.captureTime ?? meta.presentationTime;
    const timestampUs = Math.round(ms * 1000);
    let vf: VideoFrame;
    try {
      vf = new VideoFrame(video, { timestamp: timestampUs });
    } catch (e) {
      onError(e);
      return;
    }
    onFrame(vf, timestampUs);
  };
  handle = video.requestVideoFrameCallback(onVideoFrame);
  video.play().catch(onError);
  return {
    stop() {
      stopped = true;
      video.cancelVideoFrameCallback(handle);
      video.pause();
      video.srcObject = null;
    },
  };
}

const WORKLET = `
class MiniAVTap extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.chunk = options.processorOptions.chunk;
    this.channels = 0;
    this.buf = null;
    this.fill = 0;
    this.first = 0;
  }
  process(inputs) {
    let input = inputs[0];
    if (!input || input.length === 0) {
      // No data this quantum (the source is starting or stalled): once started, it is silence,
      // so the sample count stays the context's frame count.
      if (this.channels === 0) return true;
      input = this.silence || (this.silence = Array.from({ length: this.channels }, () => new Float32Array(128)));
    }
    const n = input[0].length, ch = input.length;
    if (ch !== this.channels) { this.channels = ch; this.buf = new Float32Array(this.chunk * ch); this.fill = 0; }
    for (let i = 0; i < n; i++) {
      if (this.fill === 0) this.first = currentFrame + i;
      for (let c = 0; c < ch; c++) this.buf[this.fill * ch + c] = input[c][i];
      if (++this.fill === this.chunk) {
        this.port.postMessage({ data: this.buf, frames: this.chunk, channels: ch, frame: this.first }, [this.buf.buffer]);
        this.buf = new Float32Array(this.chunk * ch);
        this.fill = 0;
      }
    }
    return true;
  }
}
registerProcessor('miniav-tap', MiniAVTap);
`;

/**
 * Audio through an AudioWorklet: float32 chunks of `chunk` frames, timestamped by the
 * AudioContext's frame counter (sample-accurate), anchored to performance.now() once.
 */
export async function startWorkletAudio(
  track: MediaStreamTrack,
  chunk: number,
  onChunk: (interleaved: Float32Array, frames: number, channels: number, sampleRate: number, sourceUs: number) => void,
): Promise<SourceHandle> {
  if (typeof AudioWorkletNode === 'undefined') throw notSupported('this browser has neither MediaStreamTrackProcessor nor AudioWorklet');
  const rate = track.getSettings().sampleRate;
  const context = new AudioContext(rate ? { sampleRate: rate } : undefined);
  const url = URL.createObjectURL(new Blob([WORKLET], { type: 'text/javascript' }));
  try {
    await context.audioWorklet.addModule(url);
  } finally {
    URL.revokeObjectURL(url);
  }
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const channels = Math.max(1, track.getSettings().channelCount ?? 1);
  const tap = new AudioWorkletNode(context, 'miniav-tap', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: channels, channelCountMode: 'explicit', processorOptions: { chunk } });
  const mute = context.createGain();
  mute.gain.value = 0;
  source.connect(tap).connect(mute).connect(context.destination);
  const anchorUs = now();
  tap.port.onmessage = (e: MessageEvent<{ data: Float32Array; frames: number; channels: number; frame: number }>) => {
    const m = e.data;
    onChunk(m.data, m.frames, m.channels, context.sampleRate, anchorUs + (m.frame * 1e6) / context.sampleRate);
  };
  await context.resume();
  return {
    stop() {
      tap.port.onmessage = null;
      source.disconnect();
      void context.close();
    },
  };
}
