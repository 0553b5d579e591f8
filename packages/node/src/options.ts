// Turns the friendly TypeScript options into the numbers the addon takes, and
// rejects bad ones with a MiniAVError before anything reaches the device.
import {
  DEFAULT_AUDIO_MAX_QUEUED,
  audioMaxQueued,
  MiniAVError,
  fourccCode,
  fourccText,
  isFourcc,
  isPixelFormat,
  isSampleFormat,
  PIXEL_FORMATS,
  SAMPLE_FORMATS,
  type AudioOpenOptions,
  type PixelFormat,
  type StreamOptions,
  type VideoFormat,
  type VideoOpenOptions,
} from '@miniav/platform-interface';
import { PIXEL_FORMAT_CODES, SAMPLE_FORMAT_CODES, type NativeVideoFormat } from './native.js';

function invalid(message: string): MiniAVError {
  return new MiniAVError('MINIAV_ERROR_INVALID_ARG', message);
}

function optionalCount(name: string, value: unknown, max = 0xffffffff): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
    throw invalid(`${name} must be a whole number from 1 to ${max} (got ${String(value)})`);
  return value;
}

export function objectOrEmpty<T extends object>(name: string, value: T | undefined): T {
  if (value === undefined) return {} as T;
  if (typeof value !== 'object' || value === null) throw invalid(`${name} must be an object`);
  return value;
}

export function videoFormatArgs(options: VideoOpenOptions): Record<string, number> {
  let fourcc = 0;
  if (options.fourcc !== undefined) {
    if (!isFourcc(options.fourcc))
      throw invalid(
        `fourcc must be a driver's four-character code as getSupportedFormats() lists it: exactly 4 printable ASCII characters, ` +
          `trailing spaces kept ('YUYV', 'Y10 '), optionally followed by '-BE' (got ${JSON.stringify(options.fourcc)})`,
      );
    fourcc = fourccCode(options.fourcc);
  }
  let pixelFormat = 0;
  if (options.pixelFormat !== undefined) {
    if (!isPixelFormat(options.pixelFormat))
      throw new MiniAVError(
        'MINIAV_ERROR_FORMAT_NOT_SUPPORTED',
        `pixelFormat '${String(options.pixelFormat)}' is not one of: ${PIXEL_FORMATS.filter((f) => f !== 'unknown').join(', ')} ` +
          '(formats MiniAV has no name for are chosen by their fourcc)',
      );
    if (options.pixelFormat === 'unknown' && !fourcc)
      throw new MiniAVError(
        'MINIAV_ERROR_FORMAT_NOT_SUPPORTED',
        "pixelFormat 'unknown' names no format: choose a format MiniAV has no name for by its fourcc (as getSupportedFormats() lists it)",
      );
    pixelFormat = PIXEL_FORMAT_CODES.indexOf(options.pixelFormat);
  }
  let num = 0;
  let den = 0;
  const rate = options.frameRate;
  if (rate === 'max') {
    num = 1;
    den = 0;
  } else if (typeof rate === 'number') {
    if (!Number.isFinite(rate) || rate <= 0) throw invalid(`frameRate must be a positive number or 'max' (got ${rate})`);
    if (Number.isInteger(rate)) [num, den] = [rate, 1];
    else [num, den] = [Math.round(rate * 1000), 1000];
  } else if (rate !== undefined) {
    // As VideoFormat.frameRate says it too (so a listed format can be passed back as it is):
    // { n, 0 } = as fast as possible, { 0, 0 } = the device's default.
    const whole = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
    if (typeof rate !== 'object' || rate === null || !whole(rate.num) || !whole(rate.den) || (rate.num === 0 && rate.den !== 0))
      throw invalid("frameRate must be a number, { num, den } with positive integers, or 'max'");
    [num, den] = rate.den === 0 ? [rate.num === 0 ? 0 : 1, 0] : [rate.num, rate.den];
  }
  if (options.output !== undefined && options.output !== 'cpu' && options.output !== 'gpu')
    throw invalid(`output must be 'cpu' or 'gpu' (got ${String(options.output)})`);
  const width = options.width === undefined ? 0 : optionalCount('width', options.width);
  const height = options.height === undefined ? 0 : optionalCount('height', options.height);
  return { width, height, pixelFormat, frameRateNum: num, frameRateDen: den, output: options.output === 'gpu' ? 1 : 0, fourcc };
}

/** The addon's video format, with the fourcc as text (left out where there is none). */
export function toVideoFormat(f: NativeVideoFormat): VideoFormat {
  const { fourcc, ...rest } = f;
  return { ...rest, pixelFormat: rest.pixelFormat as PixelFormat, ...(fourcc ? { fourcc: fourccText(fourcc) } : {}) };
}

/**
 * After configure: a fourcc that was asked for must be what the stream delivers (a backend
 * without fourccs ignores it), and a pixelFormat given with it must name the same format.
 */
export function checkConfiguredFourcc(options: VideoOpenOptions, actual: VideoFormat): void {
  if (options.fourcc === undefined) return;
  if (actual.fourcc !== options.fourcc)
    throw new MiniAVError(
      'MINIAV_ERROR_FORMAT_NOT_SUPPORTED',
      actual.fourcc === undefined
        ? `fourcc '${options.fourcc}' was asked for, but this device's backend has no fourccs: choose the format by pixelFormat`
        : `fourcc '${options.fourcc}' was asked for, but the device delivers '${actual.fourcc}'`,
    );
  const asked = options.pixelFormat;
  if (asked !== undefined && asked !== 'unknown' && asked !== actual.pixelFormat)
    throw invalid(`pixelFormat '${asked}' and fourcc '${options.fourcc}' name different formats ('${options.fourcc}' is '${actual.pixelFormat}'): give one of them`);
}

export function audioFormatArgs(options: AudioOpenOptions): Record<string, number> {
  let sampleFormat = 0;
  if (options.sampleFormat !== undefined) {
    if (!isSampleFormat(options.sampleFormat))
      throw new MiniAVError('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', `sampleFormat '${String(options.sampleFormat)}' is not one of: ${SAMPLE_FORMATS.join(', ')}`);
    sampleFormat = SAMPLE_FORMAT_CODES.indexOf(options.sampleFormat);
  }
  return {
    sampleRate: optionalCount('sampleRate', options.sampleRate),
    channels: optionalCount('channels', options.channels),
    sampleFormat,
    bufferFrames: optionalCount('bufferFrames', options.bufferFrames),
  };
}

// Audio waits longer for JavaScript by default than video: a dropped audio buffer is a gap
// in the sound, a late one only latency, while a late video frame is worth less than the
// next. 32 buffers are 320 ms of the default 10 ms buffers (a soak run lost 3 buffers to one
// ~50 ms stall of the event loop with the video default of 2); the pool adds room for the
// buffer being filled and a few the application holds.
const DEFAULT_MAX_QUEUED = { video: 2, audio: DEFAULT_AUDIO_MAX_QUEUED } as const;
const AUDIO_POOL_ROOM = 8;

export function streamOptionArgs(
  options: StreamOptions,
  media: 'video' | 'audio' = 'video',
): { poolSize: number; dropPolicy: number; maxQueued: number; audioMaxQueued: number; backend?: string } {
  const policy = options.dropPolicy ?? 'drop-newest';
  if (policy !== 'drop-newest' && policy !== 'drop-oldest')
    throw invalid(`dropPolicy must be 'drop-newest' or 'drop-oldest' (got ${String(policy)})`);
  if (options.backend !== undefined && (typeof options.backend !== 'string' || options.backend.length === 0))
    throw invalid('backend must be a backend name such as \'test-pattern\' (see getBackends())');
  const maxQueued = optionalCount('maxQueued', options.maxQueued, 256) || DEFAULT_MAX_QUEUED[media];
  let poolSize = optionalCount('poolSize', options.poolSize, 256); // 0: the backend's default
  if (media === 'audio' && poolSize === 0) poolSize = Math.min(256, maxQueued + AUDIO_POOL_ROOM);
  return {
    poolSize,
    dropPolicy: policy === 'drop-oldest' ? 1 : 0,
    maxQueued,
    // The audio buffers of a screen stream with audio wait apart from its video frames.
    audioMaxQueued: audioMaxQueued(media === 'audio', maxQueued),
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
  };
}

export function deviceIdArg(name: string, id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) throw invalid(`${name} must be a non-empty string from enumerate (got ${String(id)})`);
  return id;
}
