import type { MiniAVError } from './errors.js';

export type DeviceType = 'camera' | 'screen' | 'audio' | 'loopback';

/** Pixel formats by their MiniAV names (V4L2's YUYV is `yuyv`, its YU12 is `i420`). */
export type PixelFormat =
  | 'i420' | 'nv12' | 'nv21' | 'yuyv' | 'uyvy'
  | 'rgb24' | 'bgr24' | 'rgba' | 'bgra' | 'argb' | 'abgr'
  | 'gray' | 'mjpeg'
  /** 32-bit with an undefined fourth byte (WebCodecs' BGRX/RGBX): what X11 writes, with no pass over the pixels. */
  | 'bgrx' | 'rgbx';

/** Interleaved sample formats (WebCodecs names). */
export type SampleFormat = 'u8' | 's16' | 's24' | 's32' | 'f32';

export type ContentType = 'cpu' | 'gpu-dmabuf' | 'gpu-d3d11' | 'gpu-metal';
export type OutputPreference = 'cpu' | 'gpu';
export type DropPolicy = 'drop-newest' | 'drop-oldest';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'none';

export interface DeviceInfo {
  /** Stable id to pass to `open`. */
  id: string;
  name: string;
  /** Backend that serves it: 'test-pattern', 'v4l2', … */
  backend: string;
  isDefault: boolean;
  type: DeviceType;
  /** Displays and windows: position and size in pixels, where known. */
  geometry?: { x: number; y: number; width: number; height: number };
  /** Windows and applications: the owning process, where known. */
  processId?: number;
  /** Windows: the window class (X11 WM_CLASS), where known. */
  className?: string;
}

export interface FrameRate {
  num: number;
  /** 0 with num > 0 means "as fast as possible". */
  den: number;
}

export interface VideoFormat {
  width: number;
  height: number;
  pixelFormat: PixelFormat;
  frameRate: FrameRate;
  output: OutputPreference;
}

export interface AudioFormat {
  sampleRate: number;
  channels: number;
  sampleFormat: SampleFormat;
  /** Frames (samples per channel) in each buffer. */
  bufferFrames: number;
}

/** What every stream accepts. */
export interface StreamOptions {
  /** Buffers in the native pool (video default 4, audio 16). Frames held by the application count against it. */
  poolSize?: number;
  /**
   * When the application falls behind, which waiting frame gives way: the newest
   * (keep order, default) or the oldest (always show the latest). A frame that the
   * application holds is never taken back.
   */
  dropPolicy?: DropPolicy;
  /** Frames that may wait for the JavaScript thread before the drop policy applies (default 2). */
  maxQueued?: number;
  /** Use this backend only (e.g. 'v4l2'); default: the first available that knows the device. */
  backend?: string;
}

export interface VideoOpenOptions extends StreamOptions {
  width?: number;
  height?: number;
  pixelFormat?: PixelFormat;
  /** Frames per second, an exact fraction, or 'max' for as fast as the source can. */
  frameRate?: number | FrameRate | 'max';
  /** 'gpu' asks for GPU handles where the backend can; frames say what they carry in `contentType`. */
  output?: OutputPreference;
}

export interface AudioOpenOptions extends StreamOptions {
  sampleRate?: number;
  channels?: number;
  sampleFormat?: SampleFormat;
  /** Frames per buffer; default 10 ms worth. */
  bufferFrames?: number;
}

export type CursorMode = 'none' | 'composite' | 'metadata';

export interface ScreenOpenOptions extends VideoOpenOptions {
  /**
   * Add the system's sound (the mix of the default output) to the stream: its frames
   * (type 'audio') arrive with the video frames, on the same clock. Checked at start():
   * MINIAV_ERROR_NOT_SUPPORTED where no loopback backend offers system audio.
   */
  audio?: boolean | AudioOpenOptions;
  /** The pointer: left out (default), drawn into the frame, or described in `frame.video.cursor`. */
  cursor?: CursorMode;
  /** Deliver a frame only when the screen changed (counted in `stats.skipped` otherwise). */
  skipUnchanged?: boolean;
}

/** The pointer over a screen frame (cursor: 'metadata'). */
export interface CursorInfo {
  /** Whether the hotspot is inside the captured area. */
  visible: boolean;
  /** Hotspot position in frame pixels. */
  x: number;
  y: number;
  hotX: number;
  hotY: number;
  width: number;
  height: number;
  /** Changes when the cursor's image changes. */
  serial: number;
  /** Premultiplied BGRA, width × height × 4 bytes; valid until release. */
  image: Uint8Array;
}

export type ScreenTarget =
  | string
  | { display: string }
  | { window: string }
  | { region: { display: string; x: number; y: number; width: number; height: number } };

export interface LoopbackEnumerateOptions {
  type?: 'system' | 'device' | 'process' | 'window';
}

/** Pinhole camera model in pixels; distortion as OpenCV's k1 k2 p1 p2 k3. */
export interface CameraIntrinsics {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  distortion: number[];
}

export interface VideoPlane {
  /** A view over native memory; detached (length 0) after `release()`. */
  data: Uint8Array;
  /** Bytes from one row to the next (may exceed width × bytes per pixel). */
  stride: number;
}

export interface VideoData {
  width: number;
  height: number;
  pixelFormat: PixelFormat;
  planes: VideoPlane[];
  intrinsics?: CameraIntrinsics;
  cursor?: CursorInfo;
}

export type AudioSamples = Float32Array | Int16Array | Int32Array | Uint8Array;

export interface AudioData {
  frameCount: number;
  channels: number;
  sampleRate: number;
  sampleFormat: SampleFormat;
  /** Interleaved samples; detached after `release()`. */
  data: AudioSamples;
}

export interface Frame extends Disposable {
  readonly type: 'video' | 'audio';
  readonly contentType: ContentType;
  /** Microseconds on the MiniAV monotonic clock: the same clock as `now()` and every other stream. */
  readonly timestampUs: number;
  /** 0 for the first frame after start; a jump means frames were dropped (see `stats.dropped`). */
  readonly sequence: number;
  readonly video?: VideoData;
  readonly audio?: AudioData;
  /** True when this frame was copied out of native memory (no external buffers allowed here). */
  readonly copied: boolean;
  readonly released: boolean;
  /** Hands the native buffer back. Idempotent; the frame's arrays are empty afterwards. */
  release(): void;
}

export interface StreamStats {
  /** Frames handed to the application. */
  delivered: number;
  /** Frames lost because the application held every buffer or fell behind; never silent. */
  dropped: number;
  /** Frames delivered and not yet released. */
  held: number;
  /** Frame copies made between the source and JavaScript (0 on the zero-copy path). */
  copies: number;
  /** Frames not produced because nothing changed or the source was hidden (screens). */
  skipped: number;
}

export interface StreamEndInfo {
  reason: 'stopped' | 'closed' | 'source-ended' | 'error';
  code?: string;
  message?: string;
}

export interface StreamEventMap {
  frame: Frame;
  error: MiniAVError;
  ended: StreamEndInfo;
  /** The source changed size or format; frames after this carry the new one. */
  format: VideoFormat | AudioFormat;
  /** The source is hidden (a minimized or unmapped window): no frames until `resumed`. */
  paused: { message: string };
  resumed: { message: string };
}

export interface CaptureStream<F extends VideoFormat | AudioFormat = VideoFormat | AudioFormat> extends AsyncDisposable {
  readonly type: DeviceType;
  readonly deviceId: string;
  /** The format the device actually delivers (may differ from what was asked). */
  readonly format: F;
  readonly backend: string;
  readonly running: boolean;
  readonly closed: boolean;
  readonly stats: StreamStats;
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
  /** Frames as an async iterator; starts the stream if needed; ends when the stream stops. */
  frames(): AsyncIterableIterator<Frame>;
  on<K extends keyof StreamEventMap>(event: K, listener: (value: StreamEventMap[K]) => void): this;
  off<K extends keyof StreamEventMap>(event: K, listener: (value: StreamEventMap[K]) => void): this;
  once<K extends keyof StreamEventMap>(event: K, listener: (value: StreamEventMap[K]) => void): this;
}

export interface VideoStream extends CaptureStream<VideoFormat> {
  /** Supply calibrated intrinsics; every following frame carries them (null clears). */
  setIntrinsics(intrinsics: CameraIntrinsics | null): void;
}

export type AudioStream = CaptureStream<AudioFormat>;

export interface DeviceChange {
  type: 'added' | 'removed';
  device: DeviceInfo;
}

export interface DeviceWatchOptions {
  /** How often the device lists are compared, where the platform does not notify (default 1000 ms). */
  intervalMs?: number;
}

/** Listens for devices (screens: displays and windows; loopback: targets) that appear or go away. Returns a function that stops listening. */
export type WatchDevices = (listener: (change: DeviceChange) => void, options?: DeviceWatchOptions) => () => void;

export interface CameraAPI {
  watchDevices: WatchDevices;
  enumerateDevices(): Promise<DeviceInfo[]>;
  getSupportedFormats(deviceId: string): Promise<VideoFormat[]>;
  open(deviceId: string, options?: VideoOpenOptions): Promise<VideoStream>;
}

export interface ScreenAPI {
  watchDevices: WatchDevices;
  enumerateDisplays(): Promise<DeviceInfo[]>;
  enumerateWindows(): Promise<DeviceInfo[]>;
  getSupportedFormats(displayId: string): Promise<VideoFormat[]>;
  open(target: ScreenTarget, options?: ScreenOpenOptions): Promise<VideoStream>;
}

export interface AudioAPI {
  watchDevices: WatchDevices;
  enumerateDevices(): Promise<DeviceInfo[]>;
  getSupportedFormats(deviceId: string): Promise<AudioFormat[]>;
  open(deviceId: string, options?: AudioOpenOptions): Promise<AudioStream>;
}

export interface LoopbackAPI {
  watchDevices: WatchDevices;
  enumerateTargets(options?: LoopbackEnumerateOptions): Promise<DeviceInfo[]>;
  getSupportedFormats(targetId: string): Promise<AudioFormat[]>;
  open(targetId: string, options?: AudioOpenOptions): Promise<AudioStream>;
}

export type LogListener = (level: LogLevel, message: string) => void;

/** What `miniav` exports on every platform. */
export interface MiniAVPlatform {
  camera: CameraAPI;
  screen: ScreenAPI;
  audio: AudioAPI;
  loopback: LoopbackAPI;
  /** Microseconds on the clock of every frame's `timestampUs`. */
  now(): number;
  getVersion(): string;
  setLogLevel(level: LogLevel): void;
  /** Receive the library's log; returns a function that unsubscribes. */
  onLog(listener: LogListener): () => void;
}
