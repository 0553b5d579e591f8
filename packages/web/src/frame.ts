import type { AudioData as MiniAudioData, ContentType, Frame, PixelFormat, VideoData } from '@miniav/platform-interface';

/**
 * What a web frame carries: 'cpu' (pixels or samples in a pooled ArrayBuffer) or, for video
 * opened with `output: 'gpu'`, 'gpu-videoframe': the browser's `VideoFrame` itself in
 * `frame.videoFrame`, ready for WebGPU `importExternalTexture`, WebGL `texImage2D`, a canvas or
 * a VideoEncoder.
 */
export type WebContentType = ContentType;

/** A reusable set of equally sized buffers: one per frame the application may hold. */
export class BufferPool {
  #free: ArrayBuffer[] = [];
  #size = 0;
  #created = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** A buffer of at least `size` bytes, or null when the application holds all of them. */
  take(size: number): ArrayBuffer | null {
    if (size > this.#size) {
      // The source grew: forget the smaller buffers (those held come back and are dropped).
      this.#free = [];
      this.#size = size;
      this.#created = 0;
    }
    const b = this.#free.pop();
    if (b) return b;
    if (this.#created >= this.capacity) return null;
    this.#created++;
    return new ArrayBuffer(this.#size);
  }

  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.#size && this.#free.length < this.capacity) this.#free.push(buffer);
  }
}

const EMPTY = new Uint8Array(0);
const EMPTY_F32 = new Float32Array(0);

/** @internal The callbacks a frame needs from its stream. */
export interface FrameOwner {
  onRelease(frame: WebFrame): void;
}

/** One frame of a web stream. */
export class WebFrame implements Frame {
  readonly type: 'video' | 'audio';
  readonly contentType: ContentType;
  readonly timestampUs: number;
  readonly sequence: number;
  readonly copied: boolean;
  #video?: VideoData;
  #audio?: MiniAudioData;
  #videoFrame: VideoFrame | null;
  #buffer: ArrayBuffer | null;
  #pool: BufferPool | null;
  #owner: FrameOwner;
  #released = false;

  /** @internal */
  constructor(init: {
    type: 'video' | 'audio';
    contentType: WebContentType;
    timestampUs: number;
    sequence: number;
    video?: VideoData;
    audio?: MiniAudioData;
    videoFrame?: VideoFrame;
    buffer?: ArrayBuffer;
    pool?: BufferPool;
    owner: FrameOwner;
  }) {
    this.type = init.type;
    this.contentType = init.contentType;
    this.timestampUs = init.timestampUs;
    this.sequence = init.sequence;
    this.copied = init.contentType === 'cpu';
    this.#video = init.video;
    this.#audio = init.audio;
    this.#videoFrame = init.videoFrame ?? null;
    this.#buffer = init.buffer ?? null;
    this.#pool = init.pool ?? null;
    this.#owner = init.owner;
  }

  get video(): VideoData | undefined {
    return this.#video;
  }

  get audio(): MiniAudioData | undefined {
    return this.#audio;
  }

  /**
   * contentType 'gpu-videoframe': the browser's VideoFrame, valid until `release()` (which
   * closes it). Pass it to `GPUDevice.importExternalTexture({ source })`. null otherwise.
   */
  get videoFrame(): VideoFrame | null {
    return this.#videoFrame;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Closes the VideoFrame or gives the buffer back to the stream's pool. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#videoFrame) {
      this.#videoFrame.close();
      this.#videoFrame = null;
    }
    if (this.#buffer) {
      this.#pool?.give(this.#buffer);
      this.#buffer = null;
    }
    // The views over the pooled buffer go; the buffer itself is the next frame's.
    if (this.#video) for (const p of this.#video.planes) p.data = EMPTY;
    if (this.#audio) this.#audio.data = EMPTY_F32;
    this.#owner.onRelease(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** WebCodecs pixel format → MiniAV name ('unknown' for the ones MiniAV has no name for). */
export function pixelFormatOf(format: VideoPixelFormat | null): PixelFormat {
  switch (format) {
    case 'I420': return 'i420';
    case 'NV12': return 'nv12';
    case 'RGBA': return 'rgba';
    case 'RGBX': return 'rgbx';
    case 'BGRA': return 'bgra';
    case 'BGRX': return 'bgrx';
    default: return 'unknown';
  }
}

/** The WebCodecs format `VideoFrame.copyTo` can convert to, for a MiniAV pixel format. */
export function copyTargetOf(format: PixelFormat | undefined): VideoPixelFormat | undefined {
  switch (format) {
    case 'rgba': return 'RGBA';
    case 'rgbx': return 'RGBX';
    case 'bgra': return 'BGRA';
    case 'bgrx': return 'BGRX';
    default: return undefined;
  }
}
