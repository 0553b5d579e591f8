export * from './errors.js';
export * from './types.js';
export * from './formats.js';
export { TypedEmitter } from './emitter.js';
export { DEFAULT_AUDIO_MAX_QUEUED, FrameIterators, audioMaxQueued, type FrameSource } from './frame-iterators.js';
