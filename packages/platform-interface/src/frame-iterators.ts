import type { Frame } from './types.js';

interface Waiter {
  resolve: (r: IteratorResult<Frame>) => void;
  reject: (e: unknown) => void;
}

/** One consumer behind `frames()`: frames it has not taken yet, or its pending `next()` calls. */
class Consumer {
  frames: Frame[] = [];
  waiters: Waiter[] = [];
  done = false;
  error: unknown = null;
}

/** What an iterator needs from its stream. */
export interface FrameSource {
  readonly running: boolean;
  readonly closed: boolean;
  start(): Promise<void>;
}

/**
 * Audio buffers that may wait for the application by default (video: 2). A dropped audio
 * buffer is a gap in the sound and a late one only latency: 32 are 320 ms of 10 ms buffers.
 */
export const DEFAULT_AUDIO_MAX_QUEUED = 32;

/**
 * The audio buffers a stream lets wait: an audio or loopback stream's own `maxQueued`; in
 * a screen stream with audio, whose `maxQueued` is for its video, the audio default.
 */
export function audioMaxQueued(audioStream: boolean, maxQueued: number): number {
  return audioStream ? maxQueued : DEFAULT_AUDIO_MAX_QUEUED;
}

/**
 * The consumers of a stream's `frames()`, for every implementation (Node, web): each a
 * queue of at most `maxQueued` video frames and `audioMaxQueued` audio buffers (a screen
 * stream with audio carries both; they wait and drop apart), where the stream's drop policy
 * decides which frame of the kind gives way when the consumer falls behind. A frame an iterator has handed out is the
 * application's to release; frames still queued are released when the iterator ends.
 */
export class FrameIterators {
  readonly #source: FrameSource;
  readonly #maxQueued: number;
  readonly #audioMaxQueued: number;
  readonly #dropOldest: boolean;
  readonly #consumers = new Set<Consumer>();

  constructor(source: FrameSource, maxQueued: number, dropOldest: boolean, audioMaxQueued = maxQueued) {
    this.#source = source;
    this.#maxQueued = maxQueued;
    this.#audioMaxQueued = audioMaxQueued;
    this.#dropOldest = dropOldest;
  }

  /** Iterators now open. */
  get size(): number {
    return this.#consumers.size;
  }

  /** A new iterator; its first `next()` starts the stream if it is not running. */
  create(): AsyncIterableIterator<Frame> {
    const consumer = new Consumer();
    this.#consumers.add(consumer);
    const finish = (): void => {
      this.#consumers.delete(consumer);
      for (const f of consumer.frames) f.release();
      consumer.frames = [];
    };
    const iterator: AsyncIterableIterator<Frame> = {
      next: (): Promise<IteratorResult<Frame>> => {
        const frame = consumer.frames.shift();
        if (frame) return Promise.resolve({ value: frame, done: false });
        if (consumer.error) {
          const e = consumer.error;
          consumer.error = null;
          consumer.done = true;
          finish();
          return Promise.reject(e);
        }
        if (consumer.done || this.#source.closed) {
          finish();
          return Promise.resolve({ value: undefined, done: true });
        }
        if (!this.#source.running) {
          this.#source.start().catch((e: unknown) => {
            const w = consumer.waiters.shift();
            consumer.done = true;
            if (w) w.reject(e);
            else consumer.error = e;
          });
        }
        return new Promise((resolve, reject) => consumer.waiters.push({ resolve, reject }));
      },
      return: (): Promise<IteratorResult<Frame>> => {
        consumer.done = true;
        finish();
        for (const w of consumer.waiters.splice(0)) w.resolve({ value: undefined, done: true });
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** Hands a frame to every iterator. Returns how many queued frames the drop policy released. */
  offer(frame: Frame): number {
    let dropped = 0;
    for (const c of this.#consumers) {
      const w = c.waiters.shift();
      if (w) {
        w.resolve({ value: frame, done: false });
        continue;
      }
      c.frames.push(frame);
      let waiting = 0;
      for (const f of c.frames) if (f.type === frame.type) waiting++;
      if (waiting > (frame.type === 'audio' ? this.#audioMaxQueued : this.#maxQueued)) {
        // The consumer is behind: the drop policy picks which frame of this kind gives way.
        const at = this.#dropOldest ? c.frames.findIndex((f) => f.type === frame.type) : c.frames.length - 1;
        const [victim] = c.frames.splice(at, 1);
        dropped++;
        victim?.release();
      }
    }
    return dropped;
  }

  /** The stream failed: pending `next()` calls reject, later ones throw once. Returns whether any iterator heard it. */
  fail(error: unknown): boolean {
    for (const c of this.#consumers) {
      const w = c.waiters.shift();
      if (w) w.reject(error);
      else c.error = error;
    }
    return this.#consumers.size > 0;
  }

  /** The stream stopped: every iterator ends after the frames it still holds. */
  end(): void {
    for (const c of this.#consumers) {
      c.done = true;
      for (const w of c.waiters.splice(0)) w.resolve({ value: undefined, done: true });
    }
  }
}
