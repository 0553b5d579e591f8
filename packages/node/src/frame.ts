import {
  fourccText,
  type AudioData,
  type AudioSamples,
  type ContentType,
  type Frame,
  type PixelFormat,
  type SampleFormat,
  type VideoData,
} from '@miniav/platform-interface';
import { native, type NativeFrame } from './native.js';

/** Called when a frame was garbage-collected without release(): once per stream. */
export interface LeakReporter {
  label: string;
  warned: boolean;
}

interface LeakRecord {
  handle: bigint;
  buffers: ArrayBuffer[];
  reporter: LeakReporter;
}

// The safety net: a forgotten frame gives its native buffer back when collected.
const forgotten = new FinalizationRegistry<LeakRecord>((record) => {
  native.releaseBuffer(record.handle, record.buffers);
  if (!record.reporter.warned) {
    record.reporter.warned = true;
    process.emitWarning(
      `a frame of ${record.reporter.label} was garbage-collected without release(); ` +
        'release frames (or use `using`) so the stream does not run out of buffers',
      { code: 'MINIAV_FRAME_NOT_RELEASED' },
    );
  }
});

function samplesView(buffer: ArrayBuffer, format: string): AudioSamples {
  switch (format) {
    case 'f32':
      return new Float32Array(buffer);
    case 's16':
      return new Int16Array(buffer);
    case 's24':
    case 's32':
      return new Int32Array(buffer);
    default:
      return new Uint8Array(buffer);
  }
}

export class NodeFrame implements Frame {
  readonly type: 'video' | 'audio';
  readonly contentType: ContentType;
  readonly timestampUs: number;
  readonly sequence: number;
  readonly video?: VideoData;
  readonly audio?: AudioData;
  readonly copied: boolean;
  #handle: bigint;
  #buffers: ArrayBuffer[];
  #released = false;
  #onRelease: (frame: NodeFrame) => void;

  constructor(desc: NativeFrame, reporter: LeakReporter, onRelease: (frame: NodeFrame) => void) {
    this.type = desc.type;
    this.contentType = desc.contentType;
    this.timestampUs = desc.timestampUs;
    this.sequence = desc.sequence;
    this.copied = desc.copied === true;
    this.#handle = desc.handle;
    this.#buffers = desc.buffers;
    this.#onRelease = onRelease;
    if (desc.video) {
      const v = desc.video;
      this.video = {
        width: v.width,
        height: v.height,
        pixelFormat: v.pixelFormat as PixelFormat,
        planes: v.planes.map((p) => ({ data: new Uint8Array(desc.buffers[p.buffer]!, p.offset, p.size), stride: p.stride })),
        ...(v.fourcc ? { fourcc: fourccText(v.fourcc) } : {}),
        ...(v.dmabuf ? { dmabuf: { drmFormat: v.dmabuf.drmFormat, modifier: v.dmabuf.modifier, planes: v.dmabuf.planes } } : {}),
        ...(v.d3d11 ? { d3d11: { sharedHandle: v.d3d11.sharedHandle, texture: v.d3d11.texture } } : {}),
        ...(v.intrinsics ? { intrinsics: v.intrinsics } : {}),
        ...(v.cursor
          ? {
              cursor: {
                visible: v.cursor.visible,
                x: v.cursor.x,
                y: v.cursor.y,
                hotX: v.cursor.hotX,
                hotY: v.cursor.hotY,
                width: v.cursor.width,
                height: v.cursor.height,
                serial: v.cursor.serial,
                image: new Uint8Array(desc.buffers[0]!, v.cursor.imageOffset, v.cursor.imageSize),
              },
            }
          : {}),
      };
    }
    if (desc.audio) {
      const a = desc.audio;
      this.audio = {
        frameCount: a.frameCount,
        channels: a.channels,
        sampleRate: a.sampleRate,
        sampleFormat: a.sampleFormat as SampleFormat,
        data: samplesView(desc.buffers[0]!, a.sampleFormat),
      };
    }
    forgotten.register(this, { handle: desc.handle, buffers: desc.buffers, reporter }, this);
  }

  get released(): boolean {
    return this.#released;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    forgotten.unregister(this);
    // The descriptors go back to the stream (and on to later frames): no stale fd to use.
    for (const p of this.video?.dmabuf?.planes ?? []) p.fd = -1;
    if (this.video?.d3d11) this.video.d3d11.sharedHandle = this.video.d3d11.texture = 0n;
    native.releaseBuffer(this.#handle, this.#buffers);
    this.#onRelease(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
