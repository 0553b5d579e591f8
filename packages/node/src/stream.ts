import {
  audioMaxQueued,
  MiniAVError,
  TypedEmitter,
  FrameIterators,
  checkIntrinsics,
  type AudioFormat,
  type CameraIntrinsics,
  type CameraProperty,
  type CameraStream,
  type CaptureStream,
  type DeviceType,
  type DropPolicy,
  type Frame,
  type StreamEndInfo,
  type StreamEventMap,
  type StreamStats,
  type VideoFormat,
} from '@miniav/platform-interface';
import { NodeFrame, type LeakReporter } from './frame.js';
import { native, DEVICE_TYPE, type NativeFrame, type NativeStream } from './native.js';

const EVENT_ERROR = 1;
const EVENT_ENDED = 2;
const EVENT_FORMAT = 3;
const EVENT_PAUSED = 4;
const EVENT_RESUMED = 5;

export class NodeCaptureStream<F extends VideoFormat | AudioFormat>
  extends TypedEmitter<StreamEventMap>
  implements CaptureStream<F>, AsyncDisposable
{
  readonly type: DeviceType;
  readonly deviceId: string;
  #format: F;
  #native: NativeStream;
  #running = false;
  #closed = false;
  #held = 0;
  #jsDropped = 0;
  #iterators: FrameIterators;
  #reporter: LeakReporter;
  #lastStats: StreamStats = { delivered: 0, dropped: 0, held: 0, copies: 0, skipped: 0 };

  /** @internal Use camera.open(), screen.open(), audio.open() or loopback.open(). */
  constructor(type: DeviceType, deviceId: string, nativeStream: NativeStream, format: F, dropPolicy: DropPolicy, maxQueued: number) {
    super();
    this.type = type;
    this.deviceId = deviceId;
    this.#native = nativeStream;
    this.#format = format;
    const audioQueued = audioMaxQueued(type === 'audio' || type === 'loopback', maxQueued);
    this.#iterators = new FrameIterators(this, maxQueued, dropPolicy === 'drop-oldest', audioQueued);
    this.#reporter = { label: `the ${type} stream '${deviceId}'`, warned: false };
  }

  get format(): F {
    return this.#format;
  }

  /** Screens through the Wayland portal: pass it as `restoreToken` next time to skip the dialog. */
  get restoreToken(): string | undefined {
    if (this.#closed || this.type !== 'screen') return undefined;
    return this.#native.restoreToken() || undefined;
  }

  get backend(): string {
    return this.#closed ? '' : this.#native.backend();
  }

  get running(): boolean {
    return this.#running;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get stats(): StreamStats {
    if (!this.#closed) {
      const s = this.#native.stats();
      this.#lastStats = {
        delivered: s.delivered - this.#jsDropped,
        dropped: s.dropped + this.#jsDropped,
        held: this.#held,
        copies: s.copies,
        skipped: s.skipped,
      };
    }
    return { ...this.#lastStats, held: this.#held };
  }

  async start(): Promise<void> {
    this.#assertOpen();
    if (this.#running) return;
    const drain = (): void => this.#native.drainNow();
    this.#native.start(
      (desc) => this.#onFrame(desc),
      (type, code, message) => this.#onEvent(type, code, message),
      () => setImmediate(drain),
    );
    this.#running = true;
  }

  async stop(): Promise<void> {
    this.#stopWith({ reason: 'stopped' });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#stopWith({ reason: 'closed' });
    this.stats; // keep the final counters readable after close
    this.#native.close();
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  setIntrinsics(intrinsics: CameraIntrinsics | null): void {
    this.#assertOpen();
    checkIntrinsics(intrinsics);
    this.#native.setIntrinsics(intrinsics);
  }

  frames(): AsyncIterableIterator<Frame> {
    return this.#iterators.create();
  }

  #assertOpen(): void {
    if (this.#closed) throw new MiniAVError('MINIAV_ERROR_STREAM_CLOSED', `the ${this.type} stream '${this.deviceId}' is closed; open a new one`);
  }

  #stopWith(info: StreamEndInfo): void {
    if (!this.#running) return;
    this.#native.stop();
    this.#running = false;
    this.#iterators.end();
    this.emit('ended', info);
  }

  #onFrame(desc: NativeFrame): void {
    const frame = new NodeFrame(desc, this.#reporter, () => {
      this.#held--;
    });
    this.#held++;
    const v = frame.video;
    const current = this.#format as VideoFormat | AudioFormat;
    if (v && 'width' in current && (v.width !== current.width || v.height !== current.height)) {
      this.#format = { ...current, width: v.width, height: v.height } as F;
      this.emit('format', this.#format);
    }
    const consumed = this.emit('frame', frame) || this.#iterators.size > 0;
    this.#jsDropped += this.#iterators.offer(frame);
    if (!consumed) {
      // Nobody listens: give the buffer back at once, and count it.
      this.#jsDropped++;
      frame.release();
    }
  }

  #onEvent(type: number, code: string, message: string): void {
    if (type === EVENT_FORMAT) return; // announced with the first frame of the new size (#onFrame)
    if (type === EVENT_PAUSED) {
      this.emit('paused', { message });
      return;
    }
    if (type === EVENT_RESUMED) {
      this.emit('resumed', { message });
      return;
    }
    if (type === EVENT_ERROR) {
      const error = new MiniAVError(code, message);
      const heard = this.emit('error', error);
      if (!this.#iterators.fail(error) && !heard) process.emitWarning(`${this.#reporter.label} failed: ${message}`, { code });
      this.#stopWith({ reason: 'error', code, message });
    } else if (type === EVENT_ENDED) {
      this.#stopWith({ reason: 'source-ended', code, message });
    }
  }
}

function invalid(message: string): MiniAVError {
  return new MiniAVError('MINIAV_ERROR_INVALID_ARG', message);
}

function propertyName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0)
    throw invalid(`property name must be a non-empty string from properties() (got ${JSON.stringify(name) ?? String(name)})`);
  return name;
}

/** A camera stream: a video stream with the camera's properties. */
export class NodeCameraStream extends NodeCaptureStream<VideoFormat> implements CameraStream {
  #native: NativeStream;

  /** @internal Use camera.open(). */
  constructor(deviceId: string, nativeStream: NativeStream, format: VideoFormat, dropPolicy: DropPolicy, maxQueued: number) {
    super('camera', deviceId, nativeStream, format, dropPolicy, maxQueued);
    this.#native = nativeStream;
  }

  async properties(): Promise<CameraProperty[]> {
    this.#assertOpen();
    return this.#native.listProperties();
  }

  async getProperty(name: string): Promise<{ value: number; auto: boolean }> {
    this.#assertOpen();
    return this.#native.getProperty(propertyName(name));
  }

  async setProperty(name: string, value: number | boolean | string): Promise<void> {
    this.#assertOpen();
    const key = propertyName(name);
    let n: number;
    if (typeof value === 'boolean') n = value ? 1 : 0;
    else if (typeof value === 'number') {
      if (!Number.isSafeInteger(value))
        throw invalid(`property '${key}' takes a whole number (at most 2^53 in size), true/false, or a menu item's name (got ${value})`);
      n = value;
    } else if (typeof value === 'string') n = this.#menuValue(key, value);
    else throw invalid(`property '${key}' takes a whole number, true/false, or a menu item's name (got ${typeof value})`);
    this.#native.setProperty(key, n);
  }

  async setPropertyAuto(name: string, enable: boolean): Promise<void> {
    this.#assertOpen();
    const key = propertyName(name);
    if (typeof enable !== 'boolean') throw invalid(`setPropertyAuto('${key}', enable): enable must be true or false (got ${String(enable)})`);
    this.#native.setPropertyAuto(key, enable);
  }

  /** The value of the menu item called `item` of property `name`. */
  #menuValue(name: string, item: string): number {
    const property = this.#native.listProperties().find((p) => p.name === name);
    if (!property) {
      this.#native.getProperty(name); // the core's own "no such property" error
      throw new MiniAVError('MINIAV_ERROR_NOT_SUPPORTED', `camera '${this.deviceId}' has no property '${name}'`);
    }
    if (property.type !== 'menu' || !property.menu)
      throw invalid(`property '${name}' is ${property.type === 'integer' ? 'an integer' : `a ${property.type}`}: it takes a number${property.type === 'boolean' ? ' or true/false' : ''}, not the name '${item}'`);
    const found = property.menu.find((m) => m.name === item);
    if (!found) throw invalid(`'${item}' is not an item of property '${name}'; its items: ${property.menu.map((m) => `'${m.name}'`).join(', ')}`);
    return found.value;
  }

  #assertOpen(): void {
    if (this.closed) throw new MiniAVError('MINIAV_ERROR_STREAM_CLOSED', `the camera stream '${this.deviceId}' is closed; open a new one`);
  }
}

export function createNativeStream(type: DeviceType): NativeStream {
  return new native.NativeStream(DEVICE_TYPE[type]);
}
