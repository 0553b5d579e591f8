// What the audio bench checks in the samples themselves, the same way for every row:
// the rig's microphone is a pure sine (660 Hz, amplitude 0.5), so a lost or repeated
// stretch of samples shows up as a break in the sine, and the number of samples that
// arrived can be compared with the clock.

/**
 * Finds breaks in a sine of known frequency in interleaved s16 samples (channel 0):
 * each sample is predicted from the two before it (x[n] = 2 cos(w) x[n-1] - x[n-2]);
 * a miss larger than `tolerance` of full scale is a break. Losing exactly a whole
 * number of periods (800 samples = 11 periods at 660 Hz / 48 kHz) goes unseen.
 */
export class SineChecker {
  #k;
  #x1 = null;
  #x2 = null;
  #n = 0;
  #skip;
  #limit;
  #cooldown = 0;
  breaks = 0;
  breakAtSample = [];
  peak = 0;

  constructor({ hz, rate, channels, skipSeconds = 0.1, tolerance = 0.01 }) {
    this.#k = 2 * Math.cos((2 * Math.PI * hz) / rate);
    this.channels = channels;
    this.#skip = Math.round(skipSeconds * rate);
    this.#limit = tolerance * 32768;
  }

  /** @param {Int16Array} s interleaved samples, a whole number of frames */
  push(s) {
    const ch = this.channels;
    for (let i = 0; i < s.length; i += ch) {
      const x = s[i];
      if (this.#x2 !== null && this.#n >= this.#skip) {
        const miss = Math.abs(x - (this.#k * this.#x1 - this.#x2));
        if (this.#cooldown > 0) this.#cooldown--;
        else if (miss > this.#limit) {
          this.breaks++;
          if (this.breakAtSample.length < 20) this.breakAtSample.push(this.#n);
          this.#cooldown = 2; // the next two predictions use the sample before the break
        }
        const a = x < 0 ? -x : x;
        if (a > this.peak) this.peak = a;
      }
      this.#x2 = this.#x1;
      this.#x1 = x;
      this.#n++;
    }
  }

  get samples() {
    return this.#n;
  }
}

/**
 * Samples that arrived vs a clock: for each arrival, how far the clock is ahead of the
 * samples received so far (arrival time - (t0 + samples / rate)). The minimum over the
 * first and the last second gives the drift between the sample count and the clock
 * without the arrival jitter: ~0 when no sample was lost or invented.
 */
export class CountVsClock {
  #rate;
  #t0 = null;
  #samples = 0;
  #firstWindowMin = Infinity;
  #lastWindow = [];
  #tLast = 0;

  constructor(rate) {
    this.#rate = rate;
  }

  /**
   * @param {number} tUs the clock when `frames` frames became available
   * @param {number} frames frames that arrived then
   * @param {number} [sampleStartUs] the clock at the first sample (default: the first arrival)
   */
  mark(tUs, frames, sampleStartUs) {
    if (this.#t0 === null) this.#t0 = sampleStartUs ?? tUs;
    this.#samples += frames;
    const ahead = tUs - (this.#t0 + (this.#samples * 1e6) / this.#rate);
    if (tUs - this.#t0 <= 1e6) this.#firstWindowMin = Math.min(this.#firstWindowMin, ahead);
    this.#lastWindow.push([tUs, ahead]);
    while (this.#lastWindow.length && this.#lastWindow[0][0] < tUs - 1e6) this.#lastWindow.shift();
    this.#tLast = tUs;
  }

  /** { driftMs, driftPpm, spanS }: how much the clock ran ahead of the sample count over the run. */
  result() {
    if (this.#t0 === null || !this.#lastWindow.length) return { driftMs: null, driftPpm: null, spanS: 0 };
    let lastMin = Infinity;
    for (const [, a] of this.#lastWindow) lastMin = Math.min(lastMin, a);
    const spanUs = this.#tLast - this.#t0;
    const drift = lastMin - this.#firstWindowMin;
    return { driftMs: drift / 1000, driftPpm: spanUs > 2e6 ? (drift / spanUs) * 1e6 : null, spanS: spanUs / 1e6 };
  }
}
