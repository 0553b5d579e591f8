import type { MiniAVError } from './errors.js';

export type DeviceType = 'camera' | 'screen' | 'audio' | 'loopback';

/** Pixel formats by their MiniAV names (V4L2's YUYV is `yuyv`, its YU12 is `i420`). */
export type PixelFormat =
  | 'i420' | 'nv12' | 'nv21' | 'yuyv' | 'uyvy'
  | 'rgb24' | 'bgr24' | 'rgba' | 'bgra' | 'argb' | 'abgr'
  | 'gray' | 'mjpeg'
  /** 32-bit with an undefined fourth byte (WebCodecs' BGRX/RGBX): what X11 writes, with no pass over the pixels. */
  | 'bgrx' | 'rgbx'
  /**
   * A format MiniAV has no name for (a V4L2 camera's YVYU, Y10, Bayer, ...): the driver's
   * code in `fourcc` says what it is. Frames come as the driver delivers them, one plane
   * per memory block; choose such a format with the `fourcc` option.
   */
  | 'unknown';

/** Interleaved sample formats (WebCodecs names). */
export type SampleFormat = 'u8' | 's16' | 's24' | 's32' | 'f32';

/** Where the frame's pixels are: CPU memory, or a GPU object (Linux DMA-BUF, a D3D11 or Metal texture, a browser `VideoFrame`). */
export type ContentType = 'cpu' | 'gpu-dmabuf' | 'gpu-d3d11' | 'gpu-metal' | 'gpu-videoframe';
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

/**
 * A driver's four-character format code, where the platform has one (V4L2), exactly as
 * `v4l2-ctl --list-formats` prints it: always 4 characters, trailing spaces kept
 * ('YUYV', 'RGB3', 'Y10 '), with '-BE' appended for the big-endian variants of a code
 * ('XR15-BE'). See `fourccCode()` / `fourccText()` for the numeric form.
 */
export type FourCC = string;

export interface VideoFormat {
  width: number;
  height: number;
  /** 'unknown' for a format MiniAV has no name for: then `fourcc` names it. */
  pixelFormat: PixelFormat;
  frameRate: FrameRate;
  output: OutputPreference;
  /** The driver's code for the format, where the platform has one (V4L2); absent elsewhere. */
  fourcc?: FourCC;
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
  /** Buffers in the native pool (video: the backend's default, 3-4; audio and loopback: maxQueued + 8, so 40). Frames held by the application count against it. */
  poolSize?: number;
  /**
   * When the application falls behind, which waiting frame gives way: the newest
   * (keep order, default) or the oldest (always show the latest). A frame that the
   * application holds is never taken back.
   */
  dropPolicy?: DropPolicy;
  /**
   * Frames that may wait for the JavaScript thread before the drop policy applies (default
   * 2 for video, 32 for audio and loopback streams: 320 ms of 10 ms buffers, so a stalled
   * event loop costs latency rather than sound). In a screen stream with audio, the audio
   * buffers wait apart from the video frames, up to 32.
   */
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
  /**
   * Choose the format by the driver's code (V4L2), as `VideoFormat.fourcc` lists it: exactly
   * 4 printable ASCII characters ('YVYU', 'Y10 '), optionally followed by '-BE'. This is how
   * formats with pixelFormat 'unknown' are opened; when given, it decides the format and
   * `pixelFormat` may be left out (or be 'unknown', or the matching name). A camera that does
   * not offer it, or a backend without fourccs, fails with MINIAV_ERROR_FORMAT_NOT_SUPPORTED.
   * An entry of `getSupportedFormats()` can be passed as the options as it is.
   */
  fourcc?: FourCC;
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
  /**
   * Wayland portal (`portal:monitor`, `portal:window`): an earlier stream's `restoreToken`
   * shares the same source again without asking the user.
   */
  restoreToken?: string;
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

/** One plane of a DMA-BUF frame. Planes of one frame may share a descriptor at different offsets. */
export interface DmaBufPlane {
  /**
   * A DMA-BUF file descriptor owned by the stream: open until the frame is released (do
   * not close it; dup() it to keep the buffer longer). Reads -1 after `release()`.
   */
  fd: number;
  /** Bytes from the start of the DMA-BUF to the plane's first row. */
  offset: number;
  /** Bytes from one row to the next. */
  stride: number;
}

/**
 * A frame as DMA-BUF file descriptors (contentType 'gpu-dmabuf'), for import into
 * EGL/Vulkan/VA-API. The descriptors belong to the stream and are valid only until
 * `release()` (and the stream may hand the same descriptor out again for a later frame):
 * dup() one to keep it longer.
 */
export interface DmaBufInfo {
  /** DRM_FORMAT_* code of the layout (`fourccCode('YUYV')` for yuyv); 0 when DRM has none. */
  drmFormat: number;
  /** DRM format modifier; 0n = linear. */
  modifier: bigint;
  planes: DmaBufPlane[];
}

/**
 * A frame as a Direct3D 11 texture (contentType 'gpu-d3d11', Windows with `output: 'gpu'`):
 * open it on your device with ID3D11Device1::OpenSharedResource1(sharedHandle). Both
 * values belong to the stream and are valid only until `release()`: do not CloseHandle the
 * handle (DuplicateHandle it to keep it longer).
 */
export interface D3D11TextureInfo {
  /** The texture's NT handle (HANDLE), shared with D3D11_RESOURCE_MISC_SHARED_NTHANDLE. */
  sharedHandle: bigint;
  /** The ID3D11Texture2D* on MiniAV's own device: identification only (MiniAV's capture thread uses that device's context). */
  texture: bigint;
}

export interface VideoData {
  width: number;
  height: number;
  pixelFormat: PixelFormat;
  /**
   * The pixels in CPU memory; present for every content type on Linux (a DMA-BUF frame
   * from V4L2 is mapped for the CPU too).
   */
  planes: VideoPlane[];
  /** The driver's format code, where the platform has one (see `VideoFormat.fourcc`). */
  fourcc?: FourCC;
  /** contentType 'gpu-dmabuf': the frame's DMA-BUF descriptors (valid until `release()`). */
  dmabuf?: DmaBufInfo;
  /** contentType 'gpu-d3d11': the frame's texture (valid until `release()`). */
  d3d11?: D3D11TextureInfo;
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
  /**
   * Screens shared through the Wayland portal: a token for `ScreenOpenOptions.restoreToken`
   * that brings back the same source without the dialog; undefined elsewhere.
   */
  readonly restoreToken?: string;
}

export type AudioStream = CaptureStream<AudioFormat>;

export type CameraPropertyType = 'integer' | 'boolean' | 'menu' | 'button';

/**
 * A camera setting (brightness, exposure, focus, ...). Portable names where MiniAV knows
 * the control: 'brightness', 'contrast', 'saturation', 'hue', 'gamma', 'sharpness', 'gain',
 * 'exposure', 'white-balance' (temperature, K), 'focus', 'zoom', 'pan', 'tilt',
 * 'backlight-compensation', 'power-line-frequency'; other controls of the driver by the
 * driver's own name (lower case with '_', as `v4l2-ctl -l` prints them). "Automatic" is
 * part of a property (`hasAuto`/`auto`), not a property of its own.
 *
 * Native drivers have 64-bit integer values; they arrive as numbers, so values beyond
 * ±2^53 are rounded. In browsers some values are fractional (focus distance in metres,
 * zoom in steps of 0.1), and 'torch' exists there too.
 */
export interface CameraProperty {
  /** What getProperty/setProperty take. */
  name: string;
  /** The driver's description ('Brightness'). */
  label: string;
  /** 'menu': the value is one of `menu[].value`; 'button': setting any value triggers an action. */
  type: CameraPropertyType;
  min: number;
  max: number;
  step: number;
  default: number;
  /** The value when listed. */
  value: number;
  /** setPropertyAuto works. */
  hasAuto: boolean;
  /** The device sets the value itself now. */
  auto: boolean;
  readOnly: boolean;
  /** Has no effect now (usually: automatic mode is on). */
  inactive: boolean;
  /** type 'menu': the items; setProperty also takes an item's name. */
  menu?: { value: number; name: string }[];
}

/** A camera stream, with the camera's properties. */
export interface CameraStream extends VideoStream {
  /** Every property of the camera, with its current value ([] where the camera has none). */
  properties(): Promise<CameraProperty[]>;
  /** One property's value; MINIAV_ERROR_NOT_SUPPORTED for a name the camera does not have. */
  getProperty(name: string): Promise<{ value: number; auto: boolean }>;
  /**
   * Sets a property (and turns its automatic mode off). A boolean sets 1 or 0; a string
   * picks a menu item by its name. Values out of range: MINIAV_ERROR_INVALID_ARG.
   */
  setProperty(name: string, value: number | boolean | string): Promise<void>;
  /** Lets the device set the value itself (enable) or not; only where `hasAuto`. */
  setPropertyAuto(name: string, enable: boolean): Promise<void>;
}

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
  open(deviceId: string, options?: VideoOpenOptions): Promise<CameraStream>;
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

/** One application's sound, by its process id. */
export interface LoopbackProcessTarget {
  processId: number;
}

export interface LoopbackAPI {
  watchDevices: WatchDevices;
  enumerateTargets(options?: LoopbackEnumerateOptions): Promise<DeviceInfo[]>;
  getSupportedFormats(targetId: string): Promise<AudioFormat[]>;
  /** A target id, or `{ processId }`: the sound one process plays now (its first playback stream). */
  open(target: string | LoopbackProcessTarget, options?: AudioOpenOptions): Promise<AudioStream>;
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
