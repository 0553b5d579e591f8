// Browser APIs that TypeScript's DOM library does not declare (yet): MediaStreamTrackProcessor
// (Chromium's "Breakout Box") and the image-capture constraints of camera tracks.

export interface MediaStreamTrackProcessorInit {
  track: MediaStreamTrack;
  /** Frames the processor keeps when the reader falls behind (oldest go first). */
  maxBufferSize?: number;
}

export interface MediaStreamTrackProcessorLike<T> {
  readonly readable: ReadableStream<T>;
}

type ProcessorConstructor = new <T>(init: MediaStreamTrackProcessorInit) => MediaStreamTrackProcessorLike<T>;

/** The MediaStreamTrackProcessor constructor where the browser has one (Chromium), else undefined. */
export function trackProcessor(): ProcessorConstructor | undefined {
  const g = globalThis as unknown as { MediaStreamTrackProcessor?: ProcessorConstructor };
  return typeof g.MediaStreamTrackProcessor === 'function' ? g.MediaStreamTrackProcessor : undefined;
}

/** A numeric capability of a camera track (W3C Media Capture Image). */
export interface RangeCapability {
  min?: number;
  max?: number;
  step?: number;
}

/** The camera track capabilities MiniAV maps to properties. */
export interface CameraCapabilities {
  brightness?: RangeCapability;
  contrast?: RangeCapability;
  saturation?: RangeCapability;
  sharpness?: RangeCapability;
  exposureTime?: RangeCapability;
  exposureCompensation?: RangeCapability;
  exposureMode?: string[];
  colorTemperature?: RangeCapability;
  whiteBalanceMode?: string[];
  focusDistance?: RangeCapability;
  focusMode?: string[];
  iso?: RangeCapability;
  zoom?: RangeCapability;
  pan?: RangeCapability;
  tilt?: RangeCapability;
  torch?: boolean | boolean[];
  backgroundBlur?: boolean[];
}

export type CameraSettings = { [K in keyof CameraCapabilities]?: K extends 'exposureMode' | 'whiteBalanceMode' | 'focusMode' ? string : K extends 'torch' | 'backgroundBlur' ? boolean : number };
