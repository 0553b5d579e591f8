// @miniav/node: the MiniAV API over the native addon.
import {
  MiniAVError,
  type AudioAPI,
  type AudioFormat,
  type AudioOpenOptions,
  type AudioStream,
  type CameraAPI,
  type CameraStream,
  type DeviceInfo,
  type DeviceType,
  type LogLevel,
  type LogListener,
  type LoopbackAPI,
  type LoopbackEnumerateOptions,
  type LoopbackProcessTarget,
  type MiniAVPlatform,
  type ScreenAPI,
  type ScreenOpenOptions,
  type ScreenTarget,
  type StreamOptions,
  type WatchDevices,
  type VideoFormat,
  type VideoOpenOptions,
  type VideoStream,
} from '@miniav/platform-interface';
import { native, DEVICE_TYPE, type NativeDevice, type NativeStream, type NativeStreamTarget, type NativeVideoFormat } from './native.js';
import { NodeCameraStream, NodeCaptureStream, createNativeStream } from './stream.js';
import {
  audioFormatArgs,
  checkConfiguredFourcc,
  deviceIdArg,
  objectOrEmpty,
  streamOptionArgs,
  toVideoFormat,
  videoFormatArgs,
} from './options.js';

export * from '@miniav/platform-interface';
export { NodeCameraStream, NodeCaptureStream } from './stream.js';
export { NodeFrame } from './frame.js';

const TYPES: DeviceType[] = ['camera', 'screen', 'audio', 'loopback'];
const CURSOR_MODES = ['none', 'composite', 'metadata'] as const;

function toDevice(d: NativeDevice): DeviceInfo {
  const info: DeviceInfo = { id: d.id, name: d.name, backend: d.backend, isDefault: d.isDefault, type: TYPES[d.type] ?? 'camera' };
  if (d.width !== undefined && d.height !== undefined) info.geometry = { x: d.x ?? 0, y: d.y ?? 0, width: d.width, height: d.height };
  if (d.processId !== undefined) info.processId = d.processId;
  if (d.className !== undefined) info.className = d.className;
  return info;
}

async function enumerate(type: DeviceType, extra = 0): Promise<DeviceInfo[]> {
  return native.enumerate(DEVICE_TYPE[type], extra).map(toDevice);
}

function watcher(type: DeviceType): WatchDevices {
  return (listener, options) => {
    if (typeof listener !== 'function') throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', 'watchDevices expects a listener function');
    const interval = objectOrEmpty('options', options).intervalMs ?? 1000;
    if (!Number.isInteger(interval) || interval < 10 || interval > 3_600_000)
      throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', `intervalMs must be a whole number of milliseconds from 10 to 3600000 (got ${String(interval)})`);
    const watch = new native.DeviceWatch(DEVICE_TYPE[type], interval, (event, device) => listener({ type: event, device: toDevice(device) }));
    return () => watch.close();
  };
}

function openStream<F extends VideoFormat | AudioFormat, S = NodeCaptureStream<F>>(
  type: DeviceType,
  target: NativeStreamTarget,
  format: Record<string, number>,
  options: StreamOptions,
  extra?: (ns: NativeStream) => void,
  make?: (ns: NativeStream, actual: F, dropPolicy: 'drop-newest' | 'drop-oldest', maxQueued: number) => S,
): S {
  const streamArgs = streamOptionArgs(options, type === 'audio' || type === 'loopback' ? 'audio' : 'video');
  const ns = createNativeStream(type);
  try {
    ns.setOptions(streamArgs);
    const configured = ns.configure(target, format);
    const actual = ('width' in configured ? toVideoFormat(configured) : configured) as F;
    if ('width' in actual) checkConfiguredFourcc(options as VideoOpenOptions, actual);
    extra?.(ns);
    const dropPolicy = options.dropPolicy ?? 'drop-newest';
    return make
      ? make(ns, actual, dropPolicy, streamArgs.maxQueued)
      : (new NodeCaptureStream<F>(type, target.id, ns, actual, dropPolicy, streamArgs.maxQueued) as S);
  } catch (e) {
    ns.close();
    throw e;
  }
}

async function videoFormats(type: 'camera' | 'screen', id: string): Promise<VideoFormat[]> {
  return (native.formats(DEVICE_TYPE[type], id) as NativeVideoFormat[]).map(toVideoFormat);
}

export const camera: CameraAPI = {
  watchDevices: watcher('camera'),
  enumerateDevices: () => enumerate('camera'),
  getSupportedFormats: async (deviceId) => videoFormats('camera', deviceIdArg('deviceId', deviceId)),
  async open(deviceId: string, options?: VideoOpenOptions): Promise<CameraStream> {
    const opts = objectOrEmpty('options', options);
    const id = deviceIdArg('deviceId', deviceId);
    return openStream<VideoFormat, NodeCameraStream>('camera', { id }, videoFormatArgs(opts), opts, undefined, (ns, actual, dropPolicy, maxQueued) =>
      new NodeCameraStream(id, ns, actual, dropPolicy, maxQueued),
    );
  },
};

function screenTarget(target: ScreenTarget): NativeStreamTarget {
  if (typeof target === 'string') return { id: deviceIdArg('display id', target), kind: 'display' };
  if (typeof target !== 'object' || target === null)
    throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', 'screen target must be a display id, { display }, { window } or { region }');
  if ('display' in target) return { id: deviceIdArg('display', target.display), kind: 'display' };
  if ('window' in target) return { id: deviceIdArg('window', target.window), kind: 'window' };
  if ('region' in target) {
    const r = target.region;
    for (const k of ['x', 'y', 'width', 'height'] as const)
      if (!Number.isInteger(r?.[k])) throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', `region.${k} must be an integer`);
    return { id: deviceIdArg('region.display', r.display), kind: 'region', x: r.x, y: r.y, width: r.width, height: r.height };
  }
  throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', 'screen target must be a display id, { display }, { window } or { region }');
}

export const screen: ScreenAPI = {
  watchDevices: watcher('screen'),
  enumerateDisplays: () => enumerate('screen', 0),
  enumerateWindows: () => enumerate('screen', 1),
  getSupportedFormats: async (displayId) => videoFormats('screen', deviceIdArg('displayId', displayId)),
  async open(target: ScreenTarget, options?: ScreenOpenOptions): Promise<VideoStream> {
    const opts = objectOrEmpty('options', options);
    if (opts.audio !== undefined && typeof opts.audio !== 'boolean' && (typeof opts.audio !== 'object' || opts.audio === null))
      throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', 'audio must be true, false, or audio options ({ sampleRate, channels, sampleFormat, bufferFrames })');
    const audioArgs = opts.audio ? audioFormatArgs(opts.audio === true ? {} : opts.audio) : null;
    const cursor = opts.cursor === undefined ? 0 : CURSOR_MODES.indexOf(opts.cursor);
    if (cursor < 0) throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', `cursor must be one of: ${CURSOR_MODES.join(', ')}`);
    if (opts.skipUnchanged !== undefined && typeof opts.skipUnchanged !== 'boolean')
      throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', 'skipUnchanged must be true or false');
    if (opts.restoreToken !== undefined && typeof opts.restoreToken !== 'string')
      throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', 'restoreToken must be a string (a stream\'s restoreToken from an earlier run)');
    return openStream<VideoFormat>('screen', screenTarget(target), videoFormatArgs(opts), opts, (ns) => {
      ns.setScreenOptions({ cursor, skipUnchanged: opts.skipUnchanged === true, restoreToken: opts.restoreToken });
      ns.setScreenAudio(audioArgs);
    });
  },
};

export const audio: AudioAPI = {
  watchDevices: watcher('audio'),
  enumerateDevices: () => enumerate('audio'),
  getSupportedFormats: async (deviceId) => native.formats(DEVICE_TYPE.audio, deviceIdArg('deviceId', deviceId)) as AudioFormat[],
  async open(deviceId: string, options?: AudioOpenOptions): Promise<AudioStream> {
    const opts = objectOrEmpty('options', options);
    return openStream<AudioFormat>('audio', { id: deviceIdArg('deviceId', deviceId) }, audioFormatArgs(opts), opts);
  },
};

const LOOPBACK_FILTER = { system: 1, process: 2, window: 3, device: 4 } as const;

export const loopback: LoopbackAPI = {
  watchDevices: watcher('loopback'),
  async enumerateTargets(options?: LoopbackEnumerateOptions): Promise<DeviceInfo[]> {
    const type = objectOrEmpty('options', options).type;
    if (type !== undefined && !(type in LOOPBACK_FILTER))
      throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', `loopback target type must be one of: ${Object.keys(LOOPBACK_FILTER).join(', ')}`);
    return enumerate('loopback', type === undefined ? 0 : LOOPBACK_FILTER[type]);
  },
  getSupportedFormats: async (targetId) => native.formats(DEVICE_TYPE.loopback, deviceIdArg('targetId', targetId)) as AudioFormat[],
  async open(target: string | LoopbackProcessTarget, options?: AudioOpenOptions): Promise<AudioStream> {
    const opts = objectOrEmpty('options', options);
    let id: string;
    if (typeof target === 'object' && target !== null) {
      // A process, resolved by the C core as MiniAV_Loopback_ConfigureWithTargetInfo does:
      // its first playing stream, or (WASAPI) the process tree whatever it plays.
      const pid = (target as Partial<LoopbackProcessTarget>).processId;
      if (!Number.isInteger(pid) || (pid as number) <= 0 || (pid as number) > 0xffffffff)
        throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', 'processId must be a positive integer (the id of a process that plays sound)');
      id = native.processTargetId(pid as number);
    } else {
      id = deviceIdArg('target', target);
    }
    return openStream<AudioFormat>('loopback', { id }, audioFormatArgs(opts), opts);
  },
};

/** Microseconds on the monotonic clock of every frame's `timestampUs`. */
export function now(): number {
  return native.now();
}

export function getVersion(): string {
  return native.getVersion();
}

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'none'];

export function setLogLevel(level: LogLevel): void {
  const n = LEVELS.indexOf(level);
  if (n < 0) throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', `log level must be one of: ${LEVELS.join(', ')}`);
  native.setLogLevel(n);
}

const logListeners = new Set<LogListener>();

export function onLog(listener: LogListener): () => void {
  if (typeof listener !== 'function') throw new MiniAVError('MINIAV_ERROR_INVALID_ARG', 'onLog expects a function');
  logListeners.add(listener);
  if (logListeners.size === 1)
    native.setLogCallback((level, message) => {
      for (const l of logListeners) l(LEVELS[level] ?? 'info', message);
    });
  return () => {
    logListeners.delete(listener);
    if (logListeners.size === 0) native.setLogCallback(null);
  };
}

/** Force a backend for a device type (null: automatic). Same as MINIAV_<TYPE>_BACKEND. */
export function setBackend(type: DeviceType, name: string | null): void {
  native.setBackend(DEVICE_TYPE[type], name);
}

/** Backends compiled into this build for a device type, in priority order. */
export function getBackends(type: DeviceType): string[] {
  const names = native.backendNames(DEVICE_TYPE[type]);
  return names ? names.split(',') : [];
}

const platform: MiniAVPlatform = { camera, screen, audio, loopback, now, getVersion, setLogLevel, onLog };
export default platform;
