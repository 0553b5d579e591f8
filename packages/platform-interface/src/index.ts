export * from './errors.js';
export * from './types.js';
export * from './formats.js';
export { TypedEmitter } from './emitter.js';
export { FrameIterators, type FrameSource } from './frame-iterators.js';
