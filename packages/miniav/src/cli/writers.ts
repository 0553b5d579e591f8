// File writers for `miniav capture`: .y4m, .wav, .png, .raw. Synchronous writes keep
// them simple; frames that arrive meanwhile wait in the stream's bounded queue.
import { closeSync, openSync, writeSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import type { AudioData, Frame, FrameRate, VideoData } from '@miniav/platform-interface';
import { packPlanes, toRGB, toY4M, y4mColorspace } from './convert.js';

export interface FrameWriter {
  /** sampleFrames: audio only, write just the first N frames of this buffer. */
  write(frame: Frame, sampleFrames?: number): void;
  close(): void;
}

class FileSink {
  #fd: number;
  #owned: boolean;
  position = 0;

  constructor(path: string) {
    this.#owned = path !== '-';
    this.#fd = this.#owned ? openSync(path, 'w') : 1;
  }

  write(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(this.#fd, bytes, done, bytes.byteLength - done);
    this.position += bytes.byteLength;
  }

  writeAt(data: Uint8Array, position: number): void {
    writeSync(this.#fd, data, 0, data.byteLength, position);
  }

  close(): void {
    if (this.#owned) closeSync(this.#fd);
  }
}

function video(frame: Frame): VideoData {
  if (!frame.video) throw new Error('this file type needs video frames');
  return frame.video;
}

function audio(frame: Frame): AudioData {
  if (!frame.audio) throw new Error('this file type needs audio frames');
  return frame.audio;
}

function audioBytes(a: AudioData, sampleFrames?: number): Uint8Array {
  const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  if (sampleFrames === undefined || sampleFrames >= a.frameCount) return bytes;
  return bytes.subarray(0, (a.data.byteLength / a.frameCount) * sampleFrames);
}

export class Y4MWriter implements FrameWriter {
  #sink: FileSink;
  #rate: FrameRate;
  #started = false;

  constructor(path: string, rate: FrameRate) {
    this.#sink = new FileSink(path);
    // Unpaced capture has no nominal rate: the file says 30 fps.
    this.#rate = rate.den > 0 ? rate : { num: 30, den: 1 };
  }

  write(frame: Frame): void {
    const v = video(frame);
    if (!this.#started) {
      const cs = y4mColorspace(v.pixelFormat);
      this.#sink.write(`YUV4MPEG2 W${v.width} H${v.height} F${this.#rate.num}:${this.#rate.den} Ip A1:1 C${cs}\n`);
      this.#started = true;
    }
    this.#sink.write('FRAME\n');
    for (const plane of toY4M(v).planes) this.#sink.write(plane);
  }

  close(): void {
    this.#sink.close();
  }
}

export class RawWriter implements FrameWriter {
  #sink: FileSink;

  constructor(path: string) {
    this.#sink = new FileSink(path);
  }

  write(frame: Frame, sampleFrames?: number): void {
    if (frame.video) {
      // Compressed, or a layout MiniAV has no name for (see the format's fourcc): as delivered.
      if (frame.video.pixelFormat === 'mjpeg') this.#sink.write(frame.video.planes[0]!.data);
      else if (frame.video.pixelFormat === 'unknown') for (const plane of frame.video.planes) this.#sink.write(plane.data);
      else for (const plane of packPlanes(frame.video)) this.#sink.write(plane);
    } else {
      this.#sink.write(audioBytes(audio(frame), sampleFrames));
    }
  }

  close(): void {
    this.#sink.close();
  }
}

/** WAV: PCM for integer samples, IEEE float for f32; sizes patched in at close. */
export class WavWriter implements FrameWriter {
  #sink: FileSink;
  #dataBytes = 0;
  #headerSize = 0;
  #format: { float: boolean; channels: number; rate: number; bytes: number } | null = null;

  constructor(path: string) {
    if (path === '-') throw new Error('.wav needs a file (its header is completed at the end); use .raw for stdout');
    this.#sink = new FileSink(path);
  }

  #header(frames: number): Uint8Array {
    const f = this.#format!;
    const fmtSize = f.float ? 18 : 16;
    const size = 12 + 8 + fmtSize + (f.float ? 12 : 0) + 8;
    const b = Buffer.alloc(size);
    let o = 0;
    b.write('RIFF', o); o += 4;
    b.writeUInt32LE(size - 8 + this.#dataBytes, o); o += 4;
    b.write('WAVE', o); o += 4;
    b.write('fmt ', o); o += 4;
    b.writeUInt32LE(fmtSize, o); o += 4;
    b.writeUInt16LE(f.float ? 3 : 1, o); o += 2;
    b.writeUInt16LE(f.channels, o); o += 2;
    b.writeUInt32LE(f.rate, o); o += 4;
    b.writeUInt32LE(f.rate * f.channels * f.bytes, o); o += 4;
    b.writeUInt16LE(f.channels * f.bytes, o); o += 2;
    b.writeUInt16LE(f.bytes * 8, o); o += 2;
    if (f.float) {
      b.writeUInt16LE(0, o); o += 2;
      b.write('fact', o); o += 4;
      b.writeUInt32LE(4, o); o += 4;
      b.writeUInt32LE(frames, o); o += 4;
    }
    b.write('data', o); o += 4;
    b.writeUInt32LE(this.#dataBytes, o);
    return b;
  }

  write(frame: Frame, sampleFrames?: number): void {
    const a = audio(frame);
    if (!this.#format) {
      if (a.sampleFormat !== 'f32' && a.sampleFormat !== 's16' && a.sampleFormat !== 's32' && a.sampleFormat !== 'u8')
        throw new Error(`cannot write ${a.sampleFormat} to .wav`);
      const bytes = a.sampleFormat === 's16' ? 2 : a.sampleFormat === 'u8' ? 1 : 4;
      this.#format = { float: a.sampleFormat === 'f32', channels: a.channels, rate: a.sampleRate, bytes };
      const header = this.#header(0);
      this.#headerSize = header.byteLength;
      this.#sink.write(header);
    }
    const bytes = audioBytes(a, sampleFrames);
    this.#sink.write(bytes);
    this.#dataBytes += bytes.byteLength;
  }

  close(): void {
    if (this.#format) {
      const frames = this.#dataBytes / (this.#format.channels * this.#format.bytes);
      const header = this.#header(frames);
      if (header.byteLength === this.#headerSize) this.#sink.writeAt(header, 0);
    }
    this.#sink.close();
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = CRC_TABLE[(c ^ p[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.byteLength, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32([head.subarray(4), data]), 0);
  return Buffer.concat([head, data, crc]);
}

/** Encodes one video frame as an 8-bit RGB PNG. */
export function encodePNG(v: VideoData): Buffer {
  const rgb = toRGB(v);
  const rowBytes = v.width * 3;
  const filtered = Buffer.alloc((rowBytes + 1) * v.height);
  for (let y = 0; y < v.height; y++) {
    filtered[y * (rowBytes + 1)] = 0; // filter: none
    filtered.set(rgb.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(v.width, 0);
  ihdr.writeUInt32BE(v.height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(filtered, { level: 6 })),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

export class PngWriter implements FrameWriter {
  #path: string;
  #written = false;

  constructor(path: string) {
    this.#path = path;
  }

  write(frame: Frame): void {
    if (this.#written) return; // a PNG holds one frame
    const sink = new FileSink(this.#path);
    sink.write(encodePNG(video(frame)));
    sink.close();
    this.#written = true;
  }

  close(): void {}
}
