import {
  audioMaxQueued,
  MiniAVError,
  TypedEmitter,
  FrameIterators,
  checkIntrinsics,
  type AudioFormat,
  type CameraIntrinsics,
  type CaptureStream,
  type DeviceType,
  type Frame,
  type PixelFormat,
  type StreamEndInfo,
  type StreamEventMap,
  type StreamStats,
  type VideoData,
  type VideoFormat,
} from '@miniav/platform-interface';
import { now } from './clock.js';
import { trackProcessor } from './dom.js';
import { fromDomError } from './errors.js';
import { BufferPool, WebFrame, copyTargetOf, pixelFormatOf, type FrameOwner } from './frame.js';
import { startWorkletAudio, startVideoElement, type SourceHandle } from './fallback.js';


/** How a web stream gets its frames (StreamOptions.backend). */
export type VideoBackend = 'track-processor' | 'video-frame-callback';
export type AudioBackend = 'track-processor' | 'audio-worklet';

/** @internal Everything a stream needs from `open`. */
export interface WebStreamInit<F> {
  type: DeviceType;
  deviceId: string;
  media: MediaStream;
  format: F;
  poolSize: number;
  audioPoolSize: number;
  dropOldest: boolean;
  maxQueued: number;
  output: 'cpu' | 'gpu';
  /** The pixel format asked for (copyTo converts to RGBA/RGBX/BGRA/BGRX; others come as the source gives them). */
  pixelFormat?: PixelFormat;
  videoBackend: VideoBackend;
  audioBackend: AudioBackend;
  /** The format of the audio frames of a screen stream with audio. */
  audioFormat?: AudioFormat;
}

/**
 * Maps one source's timestamps (µs) onto MiniAV's clock (performance.now() in µs). A source
 * already on it (Chromium's AudioData, requestVideoFrameCallback's times) is kept as it is.
 * Others (Chromium's camera VideoFrames carry the system's monotonic TimeTicks) get an offset:
 * the smallest `arrival - timestamp` seen, so a frame's time is never later than its arrival,
 * the spacing of frames is the source's own, and the offset settles on the true clock
 * difference plus the smallest delivery latency.
 */
class SourceClock {
  #offset: number | null = null;
  map(sourceUs: number): number {
    const arrival = now();
    if (this.#offset === null) this.#offset = Math.abs(arrival - sourceUs) < 5e6 ? 0 : arrival - sourceUs;
    else if (this.#offset !== 0 && arrival - sourceUs < this.#offset) this.#offset = arrival - sourceUs;
    return Math.round(sourceUs + this.#offset);
  }
}

/**
 * A stream over the tracks of one MediaStream. Semantics follow @miniav/node: frames go to
 * 'frame' listeners and to every `frames()` iterator; a frame nobody listens to is released at
 * once and counted as dropped; an iterator that falls `maxQueued` frames behind drops by the
 * stream's policy; a frame held by the application is never taken back.
 */
export class WebCaptureStream<F extends VideoFormat | AudioFormat> extends TypedEmitter<StreamEventMap> implements CaptureStream<F>, FrameOwner {
  readonly type: DeviceType;
  readonly deviceId: string;
  /** The MediaStream behind this stream (for a <video> preview, a MediaRecorder, ...). Stopped by close(). */
  readonly mediaStream: MediaStream;
  #init: WebStreamInit<F>;
  #format: F;
  #running = false;
  #closed = false;
  #generation = 0;
  #sources: SourceHandle[] = [];
  #iterators: FrameIterators;
  #stats = { delivered: 0, dropped: 0, held: 0, copies: 0, skipped: 0 };
  #videoSequence = 0;
  #audioSequence = 0;
  #videoPool: BufferPool;
  #audioPool: BufferPool;
  #intrinsics: CameraIntrinsics | null = null;
  #onEnded = (): void => this.#end({ reason: 'source-ended', code: 'MINIAV_ERROR_DEVICE_LOST', message: `the ${this.type} source '${this.deviceId}' ended (the device went away or the user stopped sharing)` });

  /** @internal Use camera.open(), screen.open(), audio.open() or loopback.open(). */
  constructor(init: WebStreamInit<F>) {
    super();
    this.type = init.type;
    this.deviceId = init.deviceId;
    this.mediaStream = init.media;
    this.#init = init;
    const audioQueued = audioMaxQueued(init.type === 'audio' || init.type === 'loopback', init.maxQueued);
    this.#iterators = new FrameIterators(this, init.maxQueued, init.dropOldest, audioQueued);
    this.#format = init.format;
    this.#videoPool = new BufferPool(init.poolSize);
    this.#audioPool = new BufferPool(init.audioPoolSize);
    for (const t of init.media.getTracks()) t.addEventListener('ended', this.#onEnded);
  }

  get format(): F {
    return this.#format;
  }

  get backend(): string {
    const kinds = this.mediaStream.getTracks().map((t) => (t.kind === 'video' ? this.#init.videoBackend : this.#init.audioBackend));
    return [...new Set(kinds)].join('+');
  }

  get running(): boolean {
    return this.#running;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get stats(): StreamStats {
    return { ...this.#stats };
  }

  /** The tracks' settings as the browser reports them (the real resolution, rate, device...). */
  get settings(): MediaTrackSettings[] {
    return this.mediaStream.getTracks().map((t) => t.getSettings());
  }

  async start(): Promise<void> {
    this.#assertOpen();
    if (this.#running) return;
    const live = this.mediaStream.getTracks().filter((t) => t.readyState === 'live');
    if (live.length === 0) throw new MiniAVError('MINIAV_ERROR_DEVICE_LOST', `the ${this.type} source '${this.deviceId}' has ended; open it again`);
    this.#running = true;
    const generation = ++this.#generation;
    try {
      for (const track of live) {
        if (track.kind === 'video') this.#sources.push(this.#startVideo(track, generation));
        else this.#sources.push(await this.#startAudio(track, generation));
      }
    } catch (error) {
      this.#stopSources();
      this.#running = false;
      throw fromDomError(error, `cannot start the ${this.type} stream '${this.deviceId}'`);
    }
  }

  async stop(): Promise<void> {
    this.#end({ reason: 'stopped' });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#end({ reason: 'closed' });
    for (const t of this.mediaStream.getTracks()) {
      t.removeEventListener('ended', this.#onEnded);
      t.stop();
    }
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  setIntrinsics(intrinsics: CameraIntrinsics | null): void {
    this.#assertOpen();
    checkIntrinsics(intrinsics);
    this.#intrinsics = intrinsics ? { ...intrinsics, distortion: [...intrinsics.distortion] } : null;
  }

  frames(): AsyncIterableIterator<Frame> {
    return this.#iterators.create();
  }

  /** @internal */
  onRelease(): void {
    this.#stats.held--;
  }

  #assertOpen(): void {
    if (this.#closed) throw new MiniAVError('MINIAV_ERROR_STREAM_CLOSED', `the ${this.type} stream '${this.deviceId}' is closed; open a new one`);
  }

  #stopSources(): void {
    this.#generation++;
    for (const s of this.#sources.splice(0)) s.stop();
  }

  #end(info: StreamEndInfo): void {
    if (!this.#running) return;
    this.#stopSources();
    this.#running = false;
    this.#iterators.end();
    this.emit('ended', info);
  }

  #fail(error: unknown, what: string): void {
    if (!this.#running) return;
    const e = fromDomError(error, what);
    const heard = this.emit('error', e);
    if (!this.#iterators.fail(e) && !heard) console.warn(`MiniAV: the ${this.type} stream '${this.deviceId}' failed: ${e.message}`);
    this.#end({ reason: 'error', code: e.code, message: e.message });
  }

  #wanted(): boolean {
    return this.listenerCount('frame') > 0 || this.#iterators.size > 0;
  }

  #deliver(frame: WebFrame): void {
    this.#stats.held++;
    this.#stats.delivered++;
    this.emit('frame', frame);
    const dropped = this.#iterators.offer(frame);
    this.#stats.delivered -= dropped;
    this.#stats.dropped += dropped;
  }

  // ---- video ---------------------------------------------------------------------------

  #startVideo(track: MediaStreamTrack, generation: number): SourceHandle {
    const clock = new SourceClock();
    let chain: Promise<void> = Promise.resolve();
    const onFrame = (vf: VideoFrame, timestampUs: number): void => {
      if (generation !== this.#generation) {
        vf.close();
        return;
      }
      const sequence = this.#videoSequence++;
      if (!this.#wanted()) {
        vf.close();
        this.#stats.dropped++;
        return;
      }
      if (this.#init.output === 'gpu') {
        this.#noteVideoFormat(vf, pixelFormatOf(vf.format));
        const video = this.#videoData(vf, pixelFormatOf(vf.format), []);
        this.#deliver(new WebFrame({ type: 'video', contentType: 'gpu-videoframe', timestampUs, sequence, video, videoFrame: vf, owner: this }));
        return;
      }
      const target = copyTargetOf(this.#init.pixelFormat);
      const options: VideoFrameCopyToOptions | undefined = target ? { format: target } : undefined;
      let size: number;
      try {
        size = vf.allocationSize(options);
      } catch (error) {
        vf.close();
        this.#fail(error, `cannot copy the ${vf.format ?? 'opaque'} frames of '${this.deviceId}'`);
        return;
      }
      const buffer = this.#videoPool.take(size);
      if (!buffer) {
        // Every pooled buffer is held by the application: this frame gives way (counted).
        vf.close();
        this.#stats.dropped++;
        return;
      }
      const copy = vf.copyTo(buffer, options);
      // copyTo resolves in order; the chain keeps delivery in order even if one did not.
      chain = chain.then(async () => {
        let layout: PlaneLayout[];
        try {
          layout = await copy;
        } catch (error) {
          vf.close();
          this.#videoPool.give(buffer);
          this.#fail(error, `cannot copy a frame of '${this.deviceId}'`);
          return;
        }
        const format = target ? this.#init.pixelFormat ?? 'unknown' : pixelFormatOf(vf.format);
        const planes = layout.map((p, i) => {
          const end = i + 1 < layout.length ? layout[i + 1]!.offset : size;
          return { data: new Uint8Array(buffer, p.offset, end - p.offset), stride: p.stride };
        });
        this.#noteVideoFormat(vf, format);
        const video = this.#videoData(vf, format, planes);
        vf.close();
        if (generation !== this.#generation) {
          this.#videoPool.give(buffer);
          return;
        }
        this.#stats.copies++;
        this.#deliver(new WebFrame({ type: 'video', contentType: 'cpu', timestampUs, sequence, video, buffer, pool: this.#videoPool, owner: this }));
      });
    };

    if (this.#init.videoBackend === 'video-frame-callback') return startVideoElement(track, onFrame, (e) => this.#fail(e, `the ${this.type} source '${this.deviceId}' failed`));

    const Processor = trackProcessor()!;
    const reader = new Processor<VideoFrame>({ track, maxBufferSize: Math.max(2, this.#init.maxQueued) }).readable.getReader();
    const pump = async (): Promise<void> => {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        onFrame(r.value, clock.map(r.value.timestamp));
      }
      if (generation === this.#generation) this.#onEnded();
    };
    pump().catch((e: unknown) => this.#fail(e, `reading '${this.deviceId}' failed`));
    return { stop: () => void reader.cancel().catch(() => undefined) };
  }

  #videoData(vf: VideoFrame, pixelFormat: PixelFormat, planes: VideoData['planes']): VideoData {
    const video: VideoData = { width: vf.visibleRect?.width ?? vf.codedWidth, height: vf.visibleRect?.height ?? vf.codedHeight, pixelFormat, planes };
    if (this.#intrinsics) video.intrinsics = this.#intrinsics;
    return video;
  }

  #noteVideoFormat(vf: VideoFrame, pixelFormat: PixelFormat): void {
    const current = this.#format as VideoFormat | AudioFormat;
    if (!('width' in current)) return;
    const width = vf.visibleRect?.width ?? vf.codedWidth;
    const height = vf.visibleRect?.height ?? vf.codedHeight;
    if (width !== current.width || height !== current.height || pixelFormat !== current.pixelFormat) {
      this.#format = { ...current, width, height, pixelFormat } as F;
      this.emit('format', this.#format);
    }
  }

  // ---- audio ---------------------------------------------------------------------------

  async #startAudio(track: MediaStreamTrack, generation: number): Promise<SourceHandle> {
    let base: number | null = null;
    let sourceBase = 0;
    let samples = 0;
    let scratch = new Float32Array(0);
    const emitSamples = (frames: number, channels: number, sampleRate: number, sourceUs: number, fill: (out: Float32Array) => void): void => {
      if (generation !== this.#generation) return;
      // Sample-accurate: the first chunk's arrival anchors the clock, then every chunk is
      // `samples / sampleRate` after it; a gap of over 100 ms in the source's own timestamps re-anchors.
      if (base === null) {
        base = now();
        sourceBase = sourceUs;
      } else {
        const expected = (samples * 1e6) / sampleRate;
        if (Math.abs(sourceUs - sourceBase - expected) > 100000) {
          base += sourceUs - sourceBase - expected;
        }
      }
      const timestampUs = Math.round(base + (samples * 1e6) / sampleRate);
      samples += frames;
      const sequence = this.#audioSequence++;
      if (!this.#wanted()) {
        this.#stats.dropped++;
        return;
      }
      const buffer = this.#audioPool.take(frames * channels * 4);
      if (!buffer) {
        this.#stats.dropped++;
        return;
      }
      const data = new Float32Array(buffer, 0, frames * channels);
      fill(data);
      this.#noteAudioFormat(frames, channels, sampleRate);
      this.#stats.copies++;
      this.#deliver(
        new WebFrame({ type: 'audio', contentType: 'cpu', timestampUs, sequence, audio: { frameCount: frames, channels, sampleRate, sampleFormat: 'f32', data }, buffer, pool: this.#audioPool, owner: this }),
      );
    };

    if (this.#init.audioBackend === 'audio-worklet') {
      return startWorkletAudio(track, this.#audioFormatNow().bufferFrames, (interleaved, frames, channels, sampleRate, sourceUs) =>
        emitSamples(frames, channels, sampleRate, sourceUs, (out) => out.set(interleaved.subarray(0, frames * channels))),
      );
    }

    const Processor = trackProcessor()!;
    const reader = new Processor<AudioData>({ track, maxBufferSize: 64 }).readable.getReader();
    const pump = async (): Promise<void> => {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        const ad = r.value;
        const frames = ad.numberOfFrames;
        const channels = ad.numberOfChannels;
        emitSamples(frames, channels, ad.sampleRate, ad.timestamp, (out) => {
          if (ad.format === 'f32') {
            ad.copyTo(out, { planeIndex: 0 });
            return;
          }
          // Planar or integer source: each channel as f32, interleaved here (one pass).
          if (scratch.length < frames) scratch = new Float32Array(frames);
          for (let c = 0; c < channels; c++) {
            ad.copyTo(scratch, { planeIndex: c, format: 'f32-planar' });
            for (let i = 0, j = c; i < frames; i++, j += channels) out[j] = scratch[i]!;
          }
        });
        ad.close();
      }
      if (generation === this.#generation) this.#onEnded();
    };
    pump().catch((e: unknown) => this.#fail(e, `reading '${this.deviceId}' failed`));
    return { stop: () => void reader.cancel().catch(() => undefined) };
  }

  #audioFormatNow(): AudioFormat {
    const f = this.#format as VideoFormat | AudioFormat;
    if ('sampleRate' in f) return f;
    return this.#init.audioFormat ?? { sampleRate: 48000, channels: 1, sampleFormat: 'f32', bufferFrames: 480 };
  }

  #noteAudioFormat(frames: number, channels: number, sampleRate: number): void {
    const current = this.#format as VideoFormat | AudioFormat;
    if (!('sampleRate' in current)) return;
    if (current.bufferFrames !== frames || current.channels !== channels || current.sampleRate !== sampleRate) {
      this.#format = { ...current, bufferFrames: frames, channels, sampleRate } as F;
      this.emit('format', this.#format);
    }
  }
}
