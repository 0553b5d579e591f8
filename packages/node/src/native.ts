// Loads miniav.node: a local build, then a prebuilt binary for this platform, then
// one error that says what to do (sharp's approach).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiniAVError, type CameraProperty } from '@miniav/platform-interface';

export interface NativeDevice {
  id: string;
  name: string;
  backend: string;
  isDefault: boolean;
  type: number;
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  processId?: number;
  className?: string;
}

export interface NativeVideoFormat {
  width: number;
  height: number;
  pixelFormat: string;
  frameRate: { num: number; den: number };
  output: 'cpu' | 'gpu';
  /** Absent when 0. */
  fourcc?: number;
}

export interface NativeAudioFormat {
  sampleRate: number;
  channels: number;
  sampleFormat: string;
  bufferFrames: number;
}

export interface NativePlane {
  buffer: number;
  offset: number;
  size: number;
  stride: number;
}

export interface NativeFrame {
  handle: bigint;
  type: 'video' | 'audio';
  contentType: 'cpu' | 'gpu-dmabuf' | 'gpu-d3d11' | 'gpu-metal';
  timestampUs: number;
  sequence: number;
  buffers: ArrayBuffer[];
  copied?: boolean;
  video?: {
    width: number;
    height: number;
    pixelFormat: string;
    planes: NativePlane[];
    fourcc?: number;
    dmabuf?: { drmFormat: number; modifier: bigint; planes: { fd: number; offset: number; stride: number }[] };
    d3d11?: { sharedHandle: bigint; texture: bigint };
    intrinsics?: { fx: number; fy: number; cx: number; cy: number; distortion: number[] };
    cursor?: {
      visible: boolean;
      x: number;
      y: number;
      hotX: number;
      hotY: number;
      width: number;
      height: number;
      serial: number;
      imageOffset: number;
      imageSize: number;
    };
  };
  audio?: { frameCount: number; channels: number; sampleRate: number; sampleFormat: string };
}

export interface NativeStats {
  delivered: number;
  dropped: number;
  held: number;
  copies: number;
  skipped: number;
  poolSize: number;
}

export interface NativeStreamTarget {
  id: string;
  kind?: 'display' | 'window' | 'region';
  x?: number;
  y?: number;
  width?: number;
  height?: number;
}

/** The addon builds the public CameraProperty itself (MiniAVCameraProperty field by field). */
export type NativeProperty = CameraProperty;

export interface NativeStream {
  configure(target: NativeStreamTarget, format: Record<string, number>): NativeVideoFormat | NativeAudioFormat;
  setScreenOptions(options: { cursor: number; skipUnchanged: boolean; restoreToken?: string }): void;
  restoreToken(): string;
  setScreenAudio(format: Record<string, number> | null): void;
  setOptions(options: { poolSize: number; dropPolicy: number; maxQueued: number; audioMaxQueued: number; backend?: string }): void;
  start(
    onFrame: (frame: NativeFrame) => void,
    onEvent: (type: number, code: string, message: string) => void,
    scheduleDrain: () => void,
  ): void;
  drainNow(): void;
  stop(): void;
  close(): void;
  stats(): NativeStats;
  setIntrinsics(k: { fx: number; fy: number; cx: number; cy: number; distortion: number[] } | null): void;
  backend(): string;
  /** Camera streams only. */
  listProperties(): NativeProperty[];
  getProperty(name: string): { value: number; auto: boolean };
  setProperty(name: string, value: number): void;
  setPropertyAuto(name: string, enable: boolean): void;
}

export interface NativeBinding {
  NativeStream: new (type: number) => NativeStream;
  DeviceWatch: new (type: number, intervalMs: number, listener: (event: 'added' | 'removed', device: NativeDevice) => void) => { close(): void };
  init(errorClass: typeof MiniAVError, forceCopy: boolean): void;
  getVersion(): string;
  now(): number;
  setLogLevel(level: number): void;
  setLogCallback(fn: ((level: number, message: string) => void) | null): void;
  enumerate(type: number, extra: number): NativeDevice[];
  formats(type: number, id: string): (NativeVideoFormat | NativeAudioFormat)[];
  /** MiniAV_Loopback_GetTargetId for a process id. */
  processTargetId(pid: number): string;
  setBackend(type: number, name: string | null): void;
  backendNames(type: number): string;
  releaseBuffer(handle: bigint, buffers: ArrayBuffer[]): void;
}

function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const pkg = resolve(here, '..');
  const list: string[] = [];
  if (process.env.MINIAV_NATIVE_BINDING) list.push(resolve(process.env.MINIAV_NATIVE_BINDING));
  list.push(join(pkg, 'build', 'Release', 'miniav.node'));
  list.push(join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'miniav.node'));
  return list;
}

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const file of candidates()) {
    if (!existsSync(file)) {
      tried.push(`${file} (not there)`);
      continue;
    }
    try {
      return require(file) as NativeBinding;
    } catch (err) {
      tried.push(`${file} (${(err as Error).message.split('\n')[0]})`);
    }
  }
  const [major] = process.versions.node.split('.').map(Number);
  const hints = [
    (major ?? 0) < 20 ? `- Node ${process.versions.node} is too old: MiniAV needs Node 20.11 or newer.` : null,
    `- No prebuilt binary ships for ${process.platform}-${process.arch}: build one with ` +
      '`npm rebuild @miniav/node` (needs CMake and a C/C++ compiler).',
    '- In a clone of the MiniAV repository: run `npm run build` first.',
    '- MINIAV_NATIVE_BINDING=/path/to/miniav.node loads a binary from elsewhere.',
  ].filter((h): h is string => h !== null);
  throw new MiniAVError(
    'MINIAV_ERROR_BACKEND_UNAVAILABLE',
    `Could not load the MiniAV native addon for ${process.platform}-${process.arch} (Node ${process.versions.node}).\n` +
      `Tried:\n  ${tried.join('\n  ')}\nPossible solutions:\n${hints.join('\n')}`,
  );
}

export const native: NativeBinding = load();
native.init(MiniAVError, process.env.MINIAV_FORCE_COPY === '1');

export const DEVICE_TYPE = { camera: 0, screen: 1, audio: 2, loopback: 3 } as const;
/** C enum order of MiniAVPixelFormat. */
export const PIXEL_FORMAT_CODES = ['unknown', 'i420', 'nv12', 'nv21', 'yuyv', 'uyvy', 'rgb24', 'bgr24', 'rgba', 'bgra', 'argb', 'abgr', 'mjpeg', 'gray', 'bgrx', 'rgbx'] as const;
/** C enum order of MiniAVAudioFormat. */
export const SAMPLE_FORMAT_CODES = ['unknown', 'u8', 's16', 's24', 's32', 'f32'] as const;
