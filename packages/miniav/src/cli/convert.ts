// Pixel conversions for the file writers: planes with padded rows in, tightly packed
// planes out. Integer BT.601 limited range, the same as the C test pattern uses.
import type { PixelFormat, VideoData } from '@miniav/platform-interface';
import { planeShapes } from '@miniav/platform-interface';

/** Copies each plane without its row padding, concatenated: the `.raw` layout. */
export function packPlanes(video: VideoData): Uint8Array[] {
  const shapes = planeShapes(video.pixelFormat, video.width, video.height);
  return shapes.map((shape, i) => {
    const plane = video.planes[i];
    if (!plane) throw new Error(`frame has no plane ${i}`);
    if (plane.stride === shape.rowBytes) return plane.data.subarray(0, shape.rowBytes * shape.rows);
    const out = new Uint8Array(shape.rowBytes * shape.rows);
    for (let y = 0; y < shape.rows; y++) out.set(plane.data.subarray(y * plane.stride, y * plane.stride + shape.rowBytes), y * shape.rowBytes);
    return out;
  });
}

/** Byte offsets of R, G, B (and bytes per pixel) in packed RGB formats. */
function rgbOrder(format: PixelFormat): { r: number; g: number; b: number; bpp: number } | null {
  switch (format) {
    case 'rgba':
    case 'rgbx': return { r: 0, g: 1, b: 2, bpp: 4 };
    case 'bgra':
    case 'bgrx': return { r: 2, g: 1, b: 0, bpp: 4 };
    case 'argb': return { r: 1, g: 2, b: 3, bpp: 4 };
    case 'abgr': return { r: 3, g: 2, b: 1, bpp: 4 };
    case 'rgb24': return { r: 0, g: 1, b: 2, bpp: 3 };
    case 'bgr24': return { r: 2, g: 1, b: 0, bpp: 3 };
    default: return null;
  }
}

export interface Y4MFrame {
  colorspace: '420jpeg' | '422' | '444' | 'mono';
  planes: Uint8Array[];
}

export function y4mColorspace(format: PixelFormat): Y4MFrame['colorspace'] {
  if (format === 'i420' || format === 'nv12' || format === 'nv21') return '420jpeg';
  if (format === 'yuyv' || format === 'uyvy') return '422';
  if (format === 'gray') return 'mono';
  if (rgbOrder(format)) return '444';
  throw new Error(`cannot write ${format} to .y4m`);
}

/** Planar YUV for a Y4M frame, whatever the capture format. */
export function toY4M(video: VideoData): Y4MFrame {
  const { width: w, height: h, pixelFormat: fmt } = video;
  const cw = Math.ceil(w / 2);
  const ch = Math.ceil(h / 2);
  const colorspace = y4mColorspace(fmt);
  if (fmt === 'i420' || fmt === 'gray') return { colorspace, planes: packPlanes(video) };
  if (fmt === 'nv12' || fmt === 'nv21') {
    const [y, uv] = packPlanes(video) as [Uint8Array, Uint8Array];
    const u = new Uint8Array(cw * ch);
    const v = new Uint8Array(cw * ch);
    const [uo, vo] = fmt === 'nv12' ? [0, 1] : [1, 0];
    for (let i = 0; i < cw * ch; i++) {
      u[i] = uv[i * 2 + uo]!;
      v[i] = uv[i * 2 + vo]!;
    }
    return { colorspace, planes: [y, u, v] };
  }
  if (fmt === 'yuyv' || fmt === 'uyvy') {
    const [packed] = packPlanes(video) as [Uint8Array];
    const y = new Uint8Array(w * h);
    const u = new Uint8Array(cw * h);
    const v = new Uint8Array(cw * h);
    const [yo, uo, vo] = fmt === 'yuyv' ? [0, 1, 3] : [1, 0, 2];
    for (let row = 0; row < h; row++) {
      const src = row * cw * 4;
      for (let x = 0; x < w; x++) y[row * w + x] = packed[src + (x >> 1) * 4 + yo + (x & 1) * 2]!;
      for (let x = 0; x < cw; x++) {
        u[row * cw + x] = packed[src + x * 4 + uo]!;
        v[row * cw + x] = packed[src + x * 4 + vo]!;
      }
    }
    return { colorspace, planes: [y, u, v] };
  }
  const order = rgbOrder(fmt)!;
  const plane = video.planes[0]!;
  const y = new Uint8Array(w * h);
  const u = new Uint8Array(w * h);
  const v = new Uint8Array(w * h);
  for (let row = 0; row < h; row++) {
    const src = plane.data.subarray(row * plane.stride);
    for (let x = 0; x < w; x++) {
      const p = x * order.bpp;
      const r = src[p + order.r]!;
      const g = src[p + order.g]!;
      const b = src[p + order.b]!;
      const i = row * w + x;
      y[i] = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
      u[i] = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
      v[i] = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    }
  }
  return { colorspace, planes: [y, u, v] };
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** RGB, 3 bytes per pixel, for PNG. */
export function toRGB(video: VideoData): Uint8Array {
  const { width: w, height: h, pixelFormat: fmt } = video;
  const out = new Uint8Array(w * h * 3);
  const order = rgbOrder(fmt);
  if (order) {
    const plane = video.planes[0]!;
    for (let row = 0; row < h; row++)
      for (let x = 0; x < w; x++) {
        const p = row * plane.stride + x * order.bpp;
        const o = (row * w + x) * 3;
        out[o] = plane.data[p + order.r]!;
        out[o + 1] = plane.data[p + order.g]!;
        out[o + 2] = plane.data[p + order.b]!;
      }
    return out;
  }
  const yuv = toY4M(video);
  const [Y, U, V] = yuv.planes as [Uint8Array, Uint8Array | undefined, Uint8Array | undefined];
  const cw = yuv.colorspace === '444' ? w : Math.ceil(w / 2);
  const sub = yuv.colorspace === '420jpeg' ? 2 : 1;
  for (let row = 0; row < h; row++)
    for (let x = 0; x < w; x++) {
      const c = Y[row * w + x]! - 16;
      const ci = yuv.colorspace === '444' ? row * w + x : Math.floor(row / sub) * cw + (x >> 1);
      const d = U ? U[ci]! - 128 : 0;
      const e = V ? V[ci]! - 128 : 0;
      const o = (row * w + x) * 3;
      out[o] = clamp((298 * c + 409 * e + 128) >> 8);
      out[o + 1] = clamp((298 * c - 100 * d - 208 * e + 128) >> 8);
      out[o + 2] = clamp((298 * c + 516 * d + 128) >> 8);
    }
  return out;
}
