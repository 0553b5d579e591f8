// Turns the friendly TypeScript options into the numbers the addon takes, and
// rejects bad ones with a MiniAVError before anything reaches the device.
import {
  MiniAVError,
  isPixelFormat,
  isSampleFormat,
  PIXEL_FORMATS,
  SAMPLE_FORMATS,
  type AudioOpenOptions,
  type StreamOptions,
  type VideoOpenOptions,
} from '@miniav/platform-interface';
import { PIXEL_FORMAT_CODES, SAMPLE_FORMAT_CODES } from './native.js';

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
  let pixelFormat = 0;
  if (options.pixelFormat !== undefined) {
    if (!isPixelFormat(options.pixelFormat))
      throw new MiniAVError('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', `pixelFormat '${String(options.pixelFormat)}' is not one of: ${PIXEL_FORMATS.join(', ')}`);
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
    if (typeof rate !== 'object' || rate === null || !Number.isInteger(rate.num) || !Number.isInteger(rate.den) || rate.num <= 0 || rate.den <= 0)
      throw invalid("frameRate must be a number, { num, den } with positive integers, or 'max'");
    [num, den] = [rate.num, rate.den];
  }
  if (options.output !== undefined && options.output !== 'cpu' && options.output !== 'gpu')
    throw invalid(`output must be 'cpu' or 'gpu' (got ${String(options.output)})`);
  const width = options.width === undefined ? 0 : optionalCount('width', options.width);
  const height = options.height === undefined ? 0 : optionalCount('height', options.height);
  return { width, height, pixelFormat, frameRateNum: num, frameRateDen: den, output: options.output === 'gpu' ? 1 : 0 };
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

export function streamOptionArgs(options: StreamOptions): { poolSize: number; dropPolicy: number; maxQueued: number; backend?: string } {
  const policy = options.dropPolicy ?? 'drop-newest';
  if (policy !== 'drop-newest' && policy !== 'drop-oldest')
    throw invalid(`dropPolicy must be 'drop-newest' or 'drop-oldest' (got ${String(policy)})`);
  if (options.backend !== undefined && (typeof options.backend !== 'string' || options.backend.length === 0))
    throw invalid('backend must be a backend name such as \'test-pattern\' (see getBackends())');
  return {
    poolSize: optionalCount('poolSize', options.poolSize, 256),
    dropPolicy: policy === 'drop-oldest' ? 1 : 0,
    maxQueued: optionalCount('maxQueued', options.maxQueued, 256) || 2,
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
  };
}

export function deviceIdArg(name: string, id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) throw invalid(`${name} must be a non-empty string from enumerate (got ${String(id)})`);
  return id;
}
