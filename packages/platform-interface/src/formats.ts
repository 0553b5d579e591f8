import { MiniAVError } from './errors.js';
import type { CameraIntrinsics, PixelFormat, SampleFormat } from './types.js';

/** Every PixelFormat; the last, 'unknown', names no layout (see `VideoFormat.fourcc`). */
export const PIXEL_FORMATS: readonly PixelFormat[] = [
  'i420', 'nv12', 'nv21', 'yuyv', 'uyvy', 'rgb24', 'bgr24', 'rgba', 'bgra', 'argb', 'abgr', 'gray', 'mjpeg', 'bgrx', 'rgbx', 'unknown',
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
    case 'unknown':
      throw new RangeError("pixel format 'unknown' has no plane shape MiniAV knows: see the frame's fourcc");
  }
}

/** Size of a frame with its planes tightly packed (no row padding). */
export function packedFrameSize(format: PixelFormat, width: number, height: number): number {
  return planeShapes(format, width, height).reduce((sum, p) => sum + p.rowBytes * p.rows, 0);
}

export function bytesPerSample(format: SampleFormat): number {
  return format === 'u8' ? 1 : format === 's16' ? 2 : 4;
}

const BIG_ENDIAN = 0x80000000;

/**
 * A four-character code (V4L2 pixel format, DRM format) as text, the way `v4l2-ctl`
 * prints it: 4 characters, trailing spaces kept ('Y10 '); '-BE' appended when the
 * big-endian flag (bit 31) is set. '' for 0.
 */
export function fourccText(code: number): string {
  if (!code) return '';
  const be = (code & BIG_ENDIAN) !== 0;
  const v = code & ~BIG_ENDIAN;
  let s = '';
  for (let i = 0; i < 4; i++) s += String.fromCharCode((v >>> (8 * i)) & 0xff);
  return be ? `${s}-BE` : s;
}

const FOURCC_PATTERN = /^[\x20-\x7e]{4}(-BE)?$/;

/** Whether `text` is a four-character code as `fourccText` writes it (4 printable ASCII characters, optional '-BE'). */
export function isFourcc(text: unknown): text is string {
  return typeof text === 'string' && FOURCC_PATTERN.test(text);
}

/** The numeric code of a four-character code ('YUYV' → 0x56595559); throws a RangeError for text that is not one. */
export function fourccCode(text: string): number {
  if (!isFourcc(text)) throw new RangeError(`'${String(text)}' is not a four-character code (4 printable ASCII characters, optionally followed by -BE)`);
  let v = 0;
  for (let i = 0; i < 4; i++) v |= text.charCodeAt(i) << (8 * i);
  if (text.length > 4) v |= BIG_ENDIAN;
  return v >>> 0;
}

/** Throws MINIAV_ERROR_INVALID_ARG unless `intrinsics` is a usable pinhole model (or null). */
export function checkIntrinsics(intrinsics: CameraIntrinsics | null): void {
  if (intrinsics === null) return;
  for (const key of ['fx', 'fy', 'cx', 'cy'] as const) {
    if (typeof intrinsics[key] !== 'number' || !Number.isFinite(intrinsics[key]))
      throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', `intrinsics.${key} must be a finite number`);
  }
  if (!Array.isArray(intrinsics.distortion) || intrinsics.distortion.length > 5)
    throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', 'intrinsics.distortion must be an array of up to 5 numbers (k1 k2 p1 p2 k3)');
}
