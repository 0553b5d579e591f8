import { MiniAVError, type CameraProperty, type CameraStream, type VideoFormat } from '@miniav/platform-interface';
import type { CameraCapabilities, CameraSettings, RangeCapability } from './dom.js';
import { fromDomError, invalid } from './errors.js';
import { WebCaptureStream, type WebStreamInit } from './stream.js';

type RangeKey = 'brightness' | 'contrast' | 'saturation' | 'sharpness' | 'exposureTime' | 'exposureCompensation' | 'colorTemperature' | 'focusDistance' | 'iso' | 'zoom' | 'pan' | 'tilt';
type ModeKey = 'exposureMode' | 'whiteBalanceMode' | 'focusMode';

interface PropertySpec {
  name: string;
  label: string;
  key: RangeKey | 'torch';
  mode?: ModeKey;
}

/** MiniAV's portable property names → the W3C image-capture constraints (Media Capture Image). */
const PROPERTIES: PropertySpec[] = [
  { name: 'brightness', label: 'Brightness', key: 'brightness' },
  { name: 'contrast', label: 'Contrast', key: 'contrast' },
  { name: 'saturation', label: 'Saturation', key: 'saturation' },
  { name: 'sharpness', label: 'Sharpness', key: 'sharpness' },
  { name: 'exposure', label: 'Exposure Time (100 µs units)', key: 'exposureTime', mode: 'exposureMode' },
  { name: 'exposure-compensation', label: 'Exposure Compensation', key: 'exposureCompensation' },
  { name: 'white-balance', label: 'White Balance Temperature (K)', key: 'colorTemperature', mode: 'whiteBalanceMode' },
  { name: 'focus', label: 'Focus Distance (m)', key: 'focusDistance', mode: 'focusMode' },
  { name: 'iso', label: 'ISO', key: 'iso' },
  { name: 'zoom', label: 'Zoom', key: 'zoom' },
  { name: 'pan', label: 'Pan (arc seconds)', key: 'pan' },
  { name: 'tilt', label: 'Tilt (arc seconds)', key: 'tilt' },
  { name: 'torch', label: 'Torch', key: 'torch' },
];

/** Video constraints that ask for pan/tilt/zoom access, so that those properties can be set. */
export const PTZ_CONSTRAINTS = { pan: true, tilt: true, zoom: true } as const;

/**
 * A camera stream with properties through `MediaStreamTrack.applyConstraints` (W3C Media
 * Capture Image: zoom, focus, exposure, white balance, torch, ...). Values are the browser's
 * units (exposure in 100 µs, white balance in kelvin, focus in metres, pan/tilt in arc seconds);
 * unlike V4L2 they need not be whole numbers. "Automatic" is the 'continuous' mode.
 */
export class WebCameraStream extends WebCaptureStream<VideoFormat> implements CameraStream {
  #defaults: CameraSettings;
  #constraints: MediaTrackConstraints;
  #applied: Record<string, number | boolean | string> = {};

  /** @internal Use camera.open(). */
  constructor(init: WebStreamInit<VideoFormat>, constraints: MediaTrackConstraints) {
    super(init);
    this.#constraints = constraints;
    this.#defaults = { ...(this.#track()?.getSettings() as CameraSettings | undefined) };
  }

  #track(): MediaStreamTrack | undefined {
    return this.mediaStream.getVideoTracks()[0];
  }

  #live(): MediaStreamTrack {
    if (this.closed) throw new MiniAVError('MINIAV_ERROR_STREAM_CLOSED', `the camera stream '${this.deviceId}' is closed; open a new one`);
    const t = this.#track();
    if (!t || t.readyState !== 'live') throw new MiniAVError('MINIAV_ERROR_DEVICE_LOST', `the camera '${this.deviceId}' has ended; open it again`);
    return t;
  }

  #capabilities(track: MediaStreamTrack): CameraCapabilities {
    return typeof track.getCapabilities === 'function' ? (track.getCapabilities() as CameraCapabilities) : {};
  }

  #describe(spec: PropertySpec, caps: CameraCapabilities, settings: CameraSettings): CameraProperty | null {
    const modes = spec.mode ? caps[spec.mode] ?? [] : [];
    const hasAuto = modes.includes('manual') && modes.some((m) => m === 'continuous' || m === 'single-shot');
    const mode = spec.mode ? settings[spec.mode] : undefined;
    const auto = mode === 'continuous' || mode === 'single-shot';
    if (spec.key === 'torch') {
      const t = caps.torch;
      if (t === undefined || t === false || (Array.isArray(t) && !t.includes(true))) return null;
      const value = settings.torch ? 1 : 0;
      return { name: spec.name, label: spec.label, type: 'boolean', min: 0, max: 1, step: 1, default: this.#defaults.torch ? 1 : 0, value, hasAuto: false, auto: false, readOnly: false, inactive: false };
    }
    const range = caps[spec.key] as RangeCapability | undefined;
    if (!range || range.min === undefined || range.max === undefined) return null;
    const value = typeof settings[spec.key] === 'number' ? (settings[spec.key] as number) : range.min;
    const def = typeof this.#defaults[spec.key] === 'number' ? (this.#defaults[spec.key] as number) : value;
    return {
      name: spec.name,
      label: spec.label,
      type: 'integer',
      min: range.min,
      max: range.max,
      step: range.step ?? 0,
      default: def,
      value,
      hasAuto,
      auto,
      readOnly: range.min === range.max,
      inactive: auto,
    };
  }

  async properties(): Promise<CameraProperty[]> {
    const track = this.#live();
    const caps = this.#capabilities(track);
    const settings = track.getSettings() as CameraSettings;
    return PROPERTIES.map((p) => this.#describe(p, caps, settings)).filter((p): p is CameraProperty => p !== null);
  }

  #find(name: unknown): { spec: PropertySpec; property: CameraProperty } {
    if (typeof name !== 'string' || name.length === 0) throw invalid(`property name must be a non-empty string from properties() (got ${JSON.stringify(name) ?? String(name)})`);
    const track = this.#live();
    const spec = PROPERTIES.find((p) => p.name === name);
    const property = spec && this.#describe(spec, this.#capabilities(track), track.getSettings() as CameraSettings);
    if (!spec || !property)
      throw new MiniAVError('MINIAV_ERROR_NOT_SUPPORTED', `camera '${this.deviceId}' has no property '${name}' in this browser (properties() lists those it has)`);
    return { spec, property };
  }

  async getProperty(name: string): Promise<{ value: number; auto: boolean }> {
    const { property } = this.#find(name);
    return { value: property.value, auto: property.auto };
  }

  async setProperty(name: string, value: number | boolean | string): Promise<void> {
    const { spec, property } = this.#find(name);
    let n: number;
    if (typeof value === 'boolean') n = value ? 1 : 0;
    else if (typeof value === 'number' && Number.isFinite(value)) n = value;
    else throw invalid(`property '${spec.name}' takes a number or true/false (got ${typeof value === 'string' ? `'${value}'` : typeof value})`);
    if (property.readOnly) throw invalid(`property '${spec.name}' is read-only`);
    if (n < property.min || n > property.max) throw invalid(`property '${spec.name}' takes ${property.min}..${property.max} (got ${n})`);
    const set: Record<string, number | boolean | string> = spec.key === 'torch' ? { torch: n !== 0 } : { [spec.key]: n };
    if (spec.mode && property.hasAuto) set[spec.mode] = 'manual';
    await this.#apply(set, `set '${spec.name}' to ${n}`);
  }

  async setPropertyAuto(name: string, enable: boolean): Promise<void> {
    const { spec, property } = this.#find(name);
    if (typeof enable !== 'boolean') throw invalid(`setPropertyAuto('${spec.name}', enable): enable must be true or false (got ${String(enable)})`);
    if (!property.hasAuto || !spec.mode) throw invalid(`property '${spec.name}' has no automatic mode on this camera (hasAuto is false)`);
    // Automatic: the value set before no longer applies (a manual value with a continuous mode is unsatisfiable).
    await this.#apply({ [spec.mode]: enable ? 'continuous' : 'manual' }, `${enable ? 'enable' : 'disable'} automatic '${spec.name}'`, enable ? spec.key : undefined);
  }

  async #apply(set: Record<string, number | boolean | string>, what: string, drop?: string): Promise<void> {
    const track = this.#live();
    // applyConstraints replaces the track's constraints: keep the ones open() asked for.
    // Earlier settings stay (one merged advanced set; a later value of a key replaces it).
    const applied = { ...this.#applied, ...set };
    if (drop) delete applied[drop];
    try {
      await track.applyConstraints({ ...this.#constraints, advanced: [applied as MediaTrackConstraintSet] });
    } catch (error) {
      throw fromDomError(error, `camera '${this.deviceId}': cannot ${what}`);
    }
    this.#applied = applied;
    // Advanced constraints are best effort: a camera may keep its value without an error.
    const now = track.getSettings() as Record<string, unknown>;
    for (const [key, want] of Object.entries(set)) {
      const got = now[key];
      const same = typeof want === 'number' && typeof got === 'number' ? Math.abs(got - want) <= Math.max(1e-6, Math.abs(want) * 1e-6) : got === want;
      if (got !== undefined && !same) {
        delete this.#applied[key];
        throw new MiniAVError('MINIAV_ERROR_NOT_SUPPORTED', `camera '${this.deviceId}': cannot ${what}: the browser accepted it but the camera kept ${key} = ${String(got)}`);
      }
    }
  }
}
