// Available in every runtime MiniAV supports (Node, browsers, workers); declared here
// because this package compiles without DOM or Node typings.
declare function queueMicrotask(callback: () => void): void;

/** A small typed event emitter that runs anywhere (no Node built-ins). */
export class TypedEmitter<Events extends object> {
  #listeners = new Map<keyof Events, Set<(value: never) => void>>();

  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): this {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as (value: never) => void);
    return this;
  }

  off<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): this {
    this.#listeners.get(event)?.delete(listener as (value: never) => void);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): this {
    const wrapper = (value: Events[K]): void => {
      this.off(event, wrapper);
      listener(value);
    };
    return this.on(event, wrapper);
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /**
   * Calls every listener. One that throws does not stop the others (or the stream that
   * emits); its error is rethrown from a microtask, so it surfaces as an uncaught
   * exception the way an EventEmitter listener's would, instead of vanishing in native code.
   */
  protected emit<K extends keyof Events>(event: K, value: Events[K]): boolean {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return false;
    for (const listener of [...set]) {
      try {
        (listener as (v: Events[K]) => void)(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    return true;
  }
}
