import type { PixelFormat, SampleFormat } from './types.js';

export const PIXEL_FORMATS: readonly PixelFormat[] = [
  'i420', 'nv12', 'nv21', 'yuyv', 'uyvy', 'rgb24', 'bgr24', 'rgba', 'bgra', 'argb', 'abgr', 'gray', 'mjpeg', 'bgrx', 'rgbx',
];
export const SAMPLE_FORMATS: readonly SampleFormat[] = ['u8', 's16', 's24', 's32', 'f32'];

export function isPixelFormat(value: unknown): value is PixelFormat {
  return typeof value === 'string' && (PIXEL_FORMATS as readonly string[]).includes(value);
}

export function isSampleFormat(value: unknown): value is SampleFormat {
  return typeof value === 'string' && (SAMPLE_FORMATS as readonly string[]).includes(value);
}

/** Bytes of pixel data in each row, and rows, of each plane of an uncompressed frame (no padding). */
export interface PlaneShape {
  rowBytes: number;
  rows: number;
}

export function planeShapes(format: PixelFormat, width: number, height: number): PlaneShape[] {
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  switch (format) {
    case 'i420':
      return [{ rowBytes: width, rows: height }, { rowBytes: cw, rows: ch }, { rowBytes: cw, rows: ch }];
    case 'nv12':
    case 'nv21':
      return [{ rowBytes: width, rows: height }, { rowBytes: cw * 2, rows: ch }];
    case 'yuyv':
    case 'uyvy':
      return [{ rowBytes: cw * 4, rows: height }];
    case 'rgb24':
    case 'bgr24':
      return [{ rowBytes: width * 3, rows: height }];
    case 'rgba':
    case 'bgra':
    case 'argb':
    case 'abgr':
    case 'bgrx':
    case 'rgbx':
      return [{ rowBytes: width * 4, rows: height }];
    case 'gray':
      return [{ rowBytes: width, rows: height }];
    case 'mjpeg':
      throw new RangeError('mjpeg is compressed: it has no plane shape');
  }
}

/** Size of a frame with its planes tightly packed (no row padding). */
export function packedFrameSize(format: PixelFormat, width: number, height: number): number {
  return planeShapes(format, width, height).reduce((sum, p) => sum + p.rowBytes * p.rows, 0);
}

export function bytesPerSample(format: SampleFormat): number {
  return format === 'u8' ? 1 : format === 's16' ? 2 : 4;
}
