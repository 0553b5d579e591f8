// @miniav/web: MiniAV's API in browsers, over getUserMedia/getDisplayMedia and WebCodecs.
import {
  DEFAULT_AUDIO_MAX_QUEUED,
  MiniAVError,
  isPixelFormat,
  isSampleFormat,
  type AudioAPI,
  type AudioFormat,
  type AudioOpenOptions,
  type AudioStream,
  type CameraAPI,
  type CameraStream,
  type DeviceChange,
  type DeviceInfo,
  type DeviceType,
  type FrameRate,
  type LogLevel,
  type LogListener,
  type LoopbackAPI,
  type MiniAVPlatform,
  type ScreenAPI,
  type ScreenOpenOptions,
  type ScreenTarget,
  type StreamOptions,
  type VideoFormat,
  type VideoOpenOptions,
  type VideoStream,
  type WatchDevices,
} from '@miniav/platform-interface';
import { now } from './clock.js';
import { trackProcessor } from './dom.js';
import { fromDomError, invalid, notSupported } from './errors.js';
import { PTZ_CONSTRAINTS, WebCameraStream } from './camera.js';
import { WebCaptureStream, type AudioBackend, type VideoBackend, type WebStreamInit } from './stream.js';

export * from '@miniav/platform-interface';
export { WebCaptureStream, type AudioBackend, type VideoBackend } from './stream.js';
export { WebCameraStream } from './camera.js';
export { WebFrame, type WebContentType } from './frame.js';

const VERSION = '0.1.0';
const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'none'];
let logLevel: LogLevel = 'warn';
const logListeners = new Set<LogListener>();

function log(level: LogLevel, message: string): void {
  if (LEVELS.indexOf(level) < LEVELS.indexOf(logLevel)) return;
  for (const l of logListeners) l(level, message);
}

function media(): MediaDevices {
  const md = typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined;
  if (!md) throw notSupported('navigator.mediaDevices is missing: capture needs a secure context (https or localhost) in a browser that has it');
  return md;
}

// ---- options -----------------------------------------------------------------------------

function objectOrEmpty<T extends object>(name: string, value: T | undefined): T {
  if (value === undefined) return {} as T;
  if (typeof value !== 'object' || value === null) throw invalid(`${name} must be an object`);
  return value;
}

function count(name: string, value: unknown, def: number, max = 0xffff): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) throw invalid(`${name} must be a whole number from 1 to ${max} (got ${String(value)})`);
  return value;
}

function common(options: StreamOptions, video: boolean): { poolSize: number; dropOldest: boolean; maxQueued: number } {
  const dp = options.dropPolicy;
  if (dp !== undefined && dp !== 'drop-newest' && dp !== 'drop-oldest') throw invalid(`dropPolicy must be 'drop-newest' or 'drop-oldest' (got ${String(dp)})`);
  // Audio waits longer than video by default (a dropped buffer is a gap in the sound): as in @miniav/node.
  const maxQueued = count('maxQueued', options.maxQueued, video ? 2 : DEFAULT_AUDIO_MAX_QUEUED, 256);
  return { poolSize: count('poolSize', options.poolSize, video ? 4 : Math.min(256, maxQueued + 8), 256), dropOldest: dp === 'drop-oldest', maxQueued };
}

function frameRateValue(rate: VideoOpenOptions['frameRate']): number | undefined {
  if (rate === undefined || rate === 'max') return undefined;
  if (typeof rate === 'number') {
    if (!Number.isFinite(rate) || rate <= 0) throw invalid(`frameRate must be a positive number or 'max' (got ${rate})`);
    return rate;
  }
  const r = rate as FrameRate;
  if (typeof r !== 'object' || r === null || !Number.isInteger(r.num) || !Number.isInteger(r.den) || r.num < 0 || r.den < 0)
    throw invalid("frameRate must be a number, { num, den } with positive integers, or 'max'");
  return r.den === 0 ? undefined : r.num / r.den;
}

function toFrameRate(fps: number | undefined): FrameRate {
  if (!fps) return { num: 0, den: 1 };
  return Number.isInteger(fps) ? { num: fps, den: 1 } : { num: Math.round(fps * 1000), den: 1000 };
}

function videoBackend(backend: string | undefined): VideoBackend {
  if (backend === undefined) return trackProcessor() ? 'track-processor' : 'video-frame-callback';
  if (backend === 'track-processor') {
    if (!trackProcessor()) throw new MiniAVError('MINIAV_ERROR_BACKEND_UNAVAILABLE', "backend 'track-processor' needs MediaStreamTrackProcessor, which this browser does not have: use 'video-frame-callback'");
    return backend;
  }
  if (backend === 'video-frame-callback') return backend;
  throw new MiniAVError('MINIAV_ERROR_BACKEND_UNAVAILABLE', `video backend '${backend}' is not one of: track-processor, video-frame-callback`);
}

function audioBackend(backend: string | undefined): AudioBackend {
  if (backend === undefined) return trackProcessor() ? 'track-processor' : 'audio-worklet';
  if (backend === 'track-processor') {
    if (!trackProcessor()) throw new MiniAVError('MINIAV_ERROR_BACKEND_UNAVAILABLE', "backend 'track-processor' needs MediaStreamTrackProcessor, which this browser does not have: use 'audio-worklet'");
    return backend;
  }
  if (backend === 'audio-worklet') return backend;
  throw new MiniAVError('MINIAV_ERROR_BACKEND_UNAVAILABLE', `audio backend '${backend}' is not one of: track-processor, audio-worklet`);
}

interface VideoPlan {
  constraints: MediaTrackConstraints;
  output: 'cpu' | 'gpu';
  pixelFormat?: VideoFormat['pixelFormat'];
}

function videoPlan(options: VideoOpenOptions): VideoPlan {
  if (options.output !== undefined && options.output !== 'cpu' && options.output !== 'gpu') throw invalid(`output must be 'cpu' or 'gpu' (got ${String(options.output)})`);
  if (options.fourcc !== undefined) throw new MiniAVError('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', `fourcc '${String(options.fourcc)}': browsers have no driver format codes; choose the format by pixelFormat`);
  const pf = options.pixelFormat;
  if (pf !== undefined && !isPixelFormat(pf)) throw new MiniAVError('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', `pixelFormat '${String(pf)}' is not a MiniAV pixel format`);
  if (pf !== undefined && !['i420', 'nv12', 'rgba', 'rgbx', 'bgra', 'bgrx'].includes(pf))
    throw new MiniAVError('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', `pixelFormat '${pf}': browsers deliver i420 or nv12 as the source gives it, or convert to rgba, rgbx, bgra, bgrx`);
  const constraints: MediaTrackConstraints = {};
  if (options.width !== undefined) constraints.width = { ideal: count('width', options.width, 0, 16384) };
  if (options.height !== undefined) constraints.height = { ideal: count('height', options.height, 0, 16384) };
  const fps = frameRateValue(options.frameRate);
  if (fps !== undefined) constraints.frameRate = { ideal: fps };
  return { constraints, output: options.output ?? 'cpu', pixelFormat: pf };
}

function videoFormatOf(track: MediaStreamTrack, plan: VideoPlan): VideoFormat {
  const s = track.getSettings();
  return { width: s.width ?? 0, height: s.height ?? 0, pixelFormat: plan.pixelFormat ?? 'i420', frameRate: toFrameRate(s.frameRate), output: plan.output };
}

function audioPlan(options: AudioOpenOptions): MediaTrackConstraints {
  if (options.sampleFormat !== undefined && (!isSampleFormat(options.sampleFormat) || options.sampleFormat !== 'f32'))
    throw new MiniAVError('MINIAV_ERROR_FORMAT_NOT_SUPPORTED', `sampleFormat '${String(options.sampleFormat)}': browsers deliver float32 ('f32') only`);
  // Capture what the device hears: no voice processing unless the page turns it on itself.
  const c: MediaTrackConstraints = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
  if (options.sampleRate !== undefined) c.sampleRate = { ideal: count('sampleRate', options.sampleRate, 0, 768000) };
  if (options.channels !== undefined) c.channelCount = { ideal: count('channels', options.channels, 0, 64) };
  if (options.bufferFrames !== undefined) count('bufferFrames', options.bufferFrames, 0, 1 << 20);
  return c;
}

function audioFormatOf(track: MediaStreamTrack, options: AudioOpenOptions): AudioFormat {
  const s = track.getSettings();
  const sampleRate = s.sampleRate ?? 48000;
  return { sampleRate, channels: s.channelCount ?? 1, sampleFormat: 'f32', bufferFrames: options.bufferFrames ?? Math.round(sampleRate / 100) };
}

// ---- devices -----------------------------------------------------------------------------

const backendName = 'browser';

async function listDevices(kind: MediaDeviceKind): Promise<MediaDeviceInfo[]> {
  const md = media();
  let list = (await md.enumerateDevices()).filter((d) => d.kind === kind);
  if (list.some((d) => !d.deviceId)) {
    // Ids and names are hidden until the page may capture: ask once, then list again.
    try {
      const s = await md.getUserMedia(kind === 'videoinput' ? { video: true } : { audio: true });
      for (const t of s.getTracks()) t.stop();
    } catch (error) {
      throw fromDomError(error, `cannot list the ${kind === 'videoinput' ? 'cameras' : 'microphones'}`);
    }
    list = (await md.enumerateDevices()).filter((d) => d.kind === kind);
  }
  return list;
}

function toDevices(list: MediaDeviceInfo[], type: DeviceType): DeviceInfo[] {
  const hasDefault = list.some((d) => d.deviceId === 'default');
  return list.map((d, i) => ({
    id: d.deviceId,
    name: d.label || `${type} ${i + 1}`,
    backend: backendName,
    isDefault: hasDefault ? d.deviceId === 'default' : i === 0,
    type,
  }));
}

function deviceConstraint(id: string): MediaTrackConstraints {
  if (typeof id !== 'string') throw invalid(`device id must be a string from enumerateDevices() (got ${typeof id})`);
  return id === '' || id === 'default' ? {} : { deviceId: { exact: id } };
}

function watcher(list: () => Promise<DeviceInfo[]>): WatchDevices {
  return (listener, options) => {
    if (typeof listener !== 'function') throw invalid('watchDevices expects a listener function');
    objectOrEmpty('options', options);
    let known = new Map<string, DeviceInfo>();
    let stopped = false;
    let primed = false;
    const compare = async (): Promise<void> => {
      let now: DeviceInfo[];
      try {
        now = await list();
      } catch {
        return;
      }
      if (stopped) return;
      const next = new Map(now.map((d) => [d.id, d]));
      if (primed) {
        const changes: DeviceChange[] = [];
        for (const [id, d] of known) if (!next.has(id)) changes.push({ type: 'removed', device: d });
        for (const [id, d] of next) if (!known.has(id)) changes.push({ type: 'added', device: d });
        for (const c of changes) listener(c);
      }
      primed = true;
      known = next;
    };
    const md = typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined;
    const onChange = (): void => void compare();
    md?.addEventListener('devicechange', onChange);
    void compare();
    return () => {
      stopped = true;
      md?.removeEventListener('devicechange', onChange);
    };
  };
}

const noWatch: WatchDevices = (listener) => {
  if (typeof listener !== 'function') throw invalid('watchDevices expects a listener function');
  return () => undefined;
};

async function getUserMedia(constraints: MediaStreamConstraints, what: string): Promise<MediaStream> {
  try {
    return await media().getUserMedia(constraints);
  } catch (error) {
    throw fromDomError(error, what);
  }
}

/** Common sizes offered as formats, filtered by the track's capabilities. */
const SIZES: [number, number][] = [
  [3840, 2160], [2560, 1440], [1920, 1080], [1280, 720], [1024, 768], [800, 600], [640, 480], [640, 360], [320, 240], [320, 180], [160, 120],
];

// ---- camera ------------------------------------------------------------------------------

export const camera: CameraAPI = {
  watchDevices: watcher(async () => toDevices(await listDevices('videoinput'), 'camera')),
  async enumerateDevices() {
    return toDevices(await listDevices('videoinput'), 'camera');
  },
  /**
   * Browsers do not list a camera's modes: these are the common sizes within the track's
   * capabilities (width/height/frameRate ranges), at its highest frame rate. pixelFormat is
   * 'i420' (what cameras give in Chromium; the first frame tells, and 'rgba'/'bgra' convert).
   */
  async getSupportedFormats(deviceId) {
    const s = await getUserMedia({ video: deviceConstraint(deviceId) }, `cannot open camera '${deviceId}'`);
    try {
      const track = s.getVideoTracks()[0]!;
      const caps = typeof track.getCapabilities === 'function' ? track.getCapabilities() : {};
      const st = track.getSettings();
      const maxW = caps.width?.max ?? st.width ?? 0;
      const maxH = caps.height?.max ?? st.height ?? 0;
      const minW = caps.width?.min ?? 1;
      const minH = caps.height?.min ?? 1;
      const fps = caps.frameRate?.max ?? st.frameRate ?? 30;
      const sizes = SIZES.filter(([w, h]) => w <= maxW && h <= maxH && w >= minW && h >= minH);
      if (st.width && st.height && !sizes.some(([w, h]) => w === st.width && h === st.height)) sizes.unshift([st.width, st.height]);
      return sizes.map(([width, height]) => ({ width, height, pixelFormat: 'i420', frameRate: toFrameRate(Math.round(fps)), output: 'cpu' }));
    } finally {
      for (const t of s.getTracks()) t.stop();
    }
  },
  async open(deviceId, options): Promise<CameraStream> {
    const o = objectOrEmpty('options', options);
    const c = common(o, true);
    const plan = videoPlan(o);
    const vb = videoBackend(o.backend);
    const constraints: MediaTrackConstraints = { ...deviceConstraint(deviceId), ...plan.constraints };
    let stream: MediaStream;
    try {
      // Ask for pan/tilt/zoom access too, so those properties can be set; fall back without.
      stream = await media().getUserMedia({ video: { ...constraints, ...PTZ_CONSTRAINTS } as MediaTrackConstraints });
    } catch {
      stream = await getUserMedia({ video: constraints }, `cannot open camera '${deviceId}'`);
    }
    const track = stream.getVideoTracks()[0]!;
    const init: WebStreamInit<VideoFormat> = {
      type: 'camera',
      deviceId: track.getSettings().deviceId ?? deviceId,
      media: stream,
      format: videoFormatOf(track, plan),
      ...c,
      audioPoolSize: 16,
      output: plan.output,
      pixelFormat: plan.pixelFormat,
      videoBackend: vb,
      audioBackend: 'track-processor',
    };
    log('debug', `camera '${init.deviceId}' opened: ${JSON.stringify(track.getSettings())}`);
    return new WebCameraStream(init, constraints);
  },
};

// ---- screen ------------------------------------------------------------------------------

type Surface = 'monitor' | 'window' | 'browser';
const SURFACES: Record<string, Surface> = { display: 'monitor', monitor: 'monitor', screen: 'monitor', window: 'window', tab: 'browser', browser: 'browser' };

function surfaceOf(target: ScreenTarget): { id: string; surface: Surface } {
  let id: string;
  if (typeof target === 'string') id = target;
  else if (target && typeof target === 'object' && 'display' in target) id = target.display;
  else if (target && typeof target === 'object' && 'window' in target) id = target.window;
  else if (target && typeof target === 'object' && 'region' in target) throw notSupported('browsers capture whole displays, windows or tabs: crop the frames (or use CropTarget/RestrictionTarget) for a region');
  else throw invalid("screen target must be 'display', 'window', 'tab', or { display } / { window } with one of those");
  const surface = SURFACES[id];
  if (!surface) throw new MiniAVError('MINIAV_ERROR_DEVICE_NOT_FOUND', `screen '${id}' is not one of: display, window, tab (the user picks the exact one in the browser's dialog)`);
  return { id, surface };
}

async function displayMedia(constraints: DisplayMediaStreamOptions, what: string): Promise<MediaStream> {
  const md = media();
  if (typeof md.getDisplayMedia !== 'function') throw notSupported(`${what}: this browser has no getDisplayMedia`);
  try {
    return await md.getDisplayMedia(constraints);
  } catch (error) {
    throw fromDomError(error, what);
  }
}

const SCREEN_DEVICES: DeviceInfo[] = [
  { id: 'display', name: 'A whole screen (the user chooses)', backend: 'getDisplayMedia', isDefault: true, type: 'screen' },
  { id: 'tab', name: 'A browser tab (the user chooses)', backend: 'getDisplayMedia', isDefault: false, type: 'screen' },
];
const WINDOW_DEVICES: DeviceInfo[] = [{ id: 'window', name: 'A window (the user chooses)', backend: 'getDisplayMedia', isDefault: false, type: 'screen' }];

export const screen: ScreenAPI = {
  watchDevices: noWatch,
  /** 'display' and 'tab': the browser's dialog lets the user pick which. */
  async enumerateDisplays() {
    return SCREEN_DEVICES.map((d) => ({ ...d }));
  },
  async enumerateWindows() {
    return WINDOW_DEVICES.map((d) => ({ ...d }));
  },
  async getSupportedFormats(displayId) {
    surfaceOf(displayId);
    return [{ width: 0, height: 0, pixelFormat: 'bgrx', frameRate: { num: 30, den: 1 }, output: 'cpu' }];
  },
  /**
   * getDisplayMedia with the surface preselected ('display' → monitor, 'window', 'tab' →
   * browser). `audio: true` shares the tab's or the system's sound where the browser offers it
   * (its frames come in the same stream); MINIAV_ERROR_NOT_SUPPORTED where none came.
   */
  async open(target, options): Promise<VideoStream> {
    const { id, surface } = surfaceOf(target);
    const o = objectOrEmpty('options', options) as ScreenOpenOptions;
    const c = common(o, true);
    const plan = videoPlan(o);
    const vb = videoBackend(o.backend);
    if (o.cursor !== undefined && !['none', 'composite', 'metadata'].includes(o.cursor)) throw invalid(`cursor must be 'none', 'composite' or 'metadata' (got ${String(o.cursor)})`);
    if (o.cursor === 'metadata') throw notSupported("cursor 'metadata': browsers draw the pointer into the frames or leave it out ('composite' or 'none')");
    const audioOpts = o.audio === undefined || o.audio === false ? null : o.audio === true ? {} : objectOrEmpty('audio', o.audio);
    const video = { ...plan.constraints, displaySurface: surface, ...(o.cursor ? { cursor: o.cursor === 'none' ? 'never' : 'always' } : {}) } as MediaTrackConstraints;
    const request = { video, audio: audioOpts ? audioPlan(audioOpts) : false, ...(audioOpts ? { systemAudio: 'include' } : {}), selfBrowserSurface: 'include', surfaceSwitching: 'exclude' } as DisplayMediaStreamOptions;
    const stream = await displayMedia(request, `cannot share the ${id}`);
    const vtrack = stream.getVideoTracks()[0]!;
    const atrack = stream.getAudioTracks()[0];
    if (audioOpts && !atrack) {
      for (const t of stream.getTracks()) t.stop();
      throw notSupported(`the ${id} was shared without audio: this browser shares sound only for some surfaces (Chromium: tabs everywhere, whole screens on Windows and ChromeOS), or the user unticked it`);
    }
    return new WebCaptureStream<VideoFormat>({
      type: 'screen',
      deviceId: id,
      media: stream,
      format: videoFormatOf(vtrack, plan),
      ...c,
      audioPoolSize: 16,
      output: plan.output,
      pixelFormat: plan.pixelFormat,
      videoBackend: vb,
      audioBackend: audioBackend(undefined),
      audioFormat: atrack && audioOpts ? audioFormatOf(atrack, audioOpts) : undefined,
    });
  },
};

// ---- audio -------------------------------------------------------------------------------

function openAudio(type: 'audio' | 'loopback', deviceId: string, stream: MediaStream, o: AudioOpenOptions): AudioStream {
  const track = stream.getAudioTracks()[0]!;
  return new WebCaptureStream<AudioFormat>({
    type,
    deviceId,
    media: stream,
    format: audioFormatOf(track, o),
    ...common(o, false),
    audioPoolSize: common(o, false).poolSize,
    output: 'cpu',
    videoBackend: 'track-processor',
    audioBackend: audioBackend(o.backend),
  });
}

export const audio: AudioAPI = {
  watchDevices: watcher(async () => toDevices(await listDevices('audioinput'), 'audio')),
  async enumerateDevices() {
    return toDevices(await listDevices('audioinput'), 'audio');
  },
  async getSupportedFormats(deviceId) {
    const s = await getUserMedia({ audio: deviceConstraint(deviceId) }, `cannot open microphone '${deviceId}'`);
    try {
      const f = audioFormatOf(s.getAudioTracks()[0]!, {});
      return [f];
    } finally {
      for (const t of s.getTracks()) t.stop();
    }
  },
  async open(deviceId, options) {
    const o = objectOrEmpty('options', options);
    common(o, false);
    audioBackend(o.backend);
    const constraints = { ...deviceConstraint(deviceId), ...audioPlan(o) };
    const stream = await getUserMedia({ audio: constraints }, `cannot open microphone '${deviceId}'`);
    return openAudio('audio', stream.getAudioTracks()[0]!.getSettings().deviceId ?? deviceId, stream, o);
  },
};

// ---- loopback ----------------------------------------------------------------------------

const LOOPBACK_TARGETS: DeviceInfo[] = [
  { id: 'system', name: "The system's sound (shared with the screen)", backend: 'getDisplayMedia', isDefault: true, type: 'loopback' },
  { id: 'tab', name: "A tab's sound (the user chooses)", backend: 'getDisplayMedia', isDefault: false, type: 'loopback' },
];

export const loopback: LoopbackAPI = {
  watchDevices: noWatch,
  async enumerateTargets(options) {
    const o = objectOrEmpty('options', options);
    if (o.type !== undefined && !['system', 'device', 'process', 'window'].includes(o.type)) throw invalid(`type must be 'system', 'device', 'process' or 'window' (got ${String(o.type)})`);
    if (o.type === 'device' || o.type === 'process' || o.type === 'window') return [];
    return LOOPBACK_TARGETS.filter((t) => o.type === undefined || t.id === 'system').map((d) => ({ ...d }));
  },
  async getSupportedFormats(targetId) {
    if (targetId !== 'system' && targetId !== 'tab') throw new MiniAVError('MINIAV_ERROR_DEVICE_NOT_FOUND', `loopback target '${String(targetId)}' is not one of: system, tab`);
    return [{ sampleRate: 48000, channels: 2, sampleFormat: 'f32', bufferFrames: 480 }];
  },
  /**
   * The sound that getDisplayMedia shares ('system': a whole screen with its sound; 'tab': a
   * tab's sound); the video track is stopped at once. MINIAV_ERROR_NOT_SUPPORTED where the
   * browser shared no sound.
   */
  async open(targetId, options) {
    if (typeof targetId === 'object' && targetId !== null)
      throw new MiniAVError('MINIAV_ERROR_NOT_SUPPORTED', "browsers cannot capture one process's sound; use 'system' or 'tab'");
    if (targetId !== 'system' && targetId !== 'tab') throw new MiniAVError('MINIAV_ERROR_DEVICE_NOT_FOUND', `loopback target '${String(targetId)}' is not one of: system, tab`);
    const o = objectOrEmpty('options', options);
    common(o, false);
    audioBackend(o.backend);
    const request = {
      video: { displaySurface: targetId === 'tab' ? 'browser' : 'monitor' },
      audio: audioPlan(o),
      systemAudio: 'include',
    } as DisplayMediaStreamOptions;
    const stream = await displayMedia(request, `cannot share the ${targetId === 'tab' ? "tab's" : "system's"} sound`);
    for (const t of stream.getVideoTracks()) {
      t.stop();
      stream.removeTrack(t);
    }
    if (stream.getAudioTracks().length === 0)
      throw notSupported(`this browser shared no ${targetId === 'tab' ? "tab's" : "system's"} sound (Chromium shares a tab's sound everywhere, the system's on Windows and ChromeOS only; the user may also untick "share audio")`);
    return openAudio('loopback', targetId, stream, o);
  },
};

// ---- the rest ----------------------------------------------------------------------------

export { now };

export function getVersion(): string {
  return VERSION;
}

export function setLogLevel(level: LogLevel): void {
  if (!LEVELS.includes(level)) throw invalid(`log level must be one of: ${LEVELS.join(', ')} (got ${String(level)})`);
  logLevel = level;
}

export function onLog(listener: LogListener): () => void {
  if (typeof listener !== 'function') throw invalid('onLog expects a function');
  logListeners.add(listener);
  return () => void logListeners.delete(listener);
}

const platform: MiniAVPlatform = { camera, screen, audio, loopback, now, getVersion, setLogLevel, onLog };
export default platform;
