/**
 * Clock is the only source of time in capstan. Everything that waits (settle periods,
 * backoff, polling, simulated operations) takes one, so tests run with scaled or manual
 * time and never depend on wall-clock luck.
 */
export interface Clock {
  /** now returns the current time in milliseconds since the Unix epoch, in clock time. */
  now(): number;
  /**
   * sleep resolves after `ms` milliseconds of clock time. It rejects with the signal's
   * reason when the signal aborts first.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Options of {@link ScaledClock}. */
export interface ScaledClockOptions {
  /**
   * How many clock milliseconds pass per real millisecond. 1000 turns a 3-minute SQL
   * restart into 180 ms.
   * @default 1
   */
  readonly scale?: number;
  /**
   * Clock time at construction, in epoch milliseconds.
   * @default Date.now()
   */
  readonly epoch?: number;
}

/**
 * ScaledClock runs `scale` times faster than real time. Scale 1 is the system clock.
 */
export class ScaledClock implements Clock {
  #scale: number;
  #epoch: number;
  #realStart: number;

  constructor(options: ScaledClockOptions = {}) {
    const scale = options.scale ?? 1;
    if (!Number.isFinite(scale) || scale <= 0) {
      throw new TypeError(`Expected \`scale\` to be a finite number > 0, got \`${scale}\``);
    }
    this.#scale = scale;
    this.#realStart = performance.now();
    this.#epoch = options.epoch ?? Date.now();
  }

  /** scale is how many clock milliseconds pass per real millisecond. */
  get scale(): number {
    return this.#scale;
  }

  /**
   * setScale changes the speed from now on without moving the current time, so a running
   * simulator can be slowed down or sped up.
   */
  setScale(scale: number): void {
    if (!Number.isFinite(scale) || scale <= 0) {
      throw new TypeError(`Expected \`scale\` to be a finite number > 0, got \`${scale}\``);
    }
    this.#epoch = this.now();
    this.#realStart = performance.now();
    this.#scale = scale;
  }

  now(): number {
    return this.#epoch + (performance.now() - this.#realStart) * this.#scale;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return realSleep(Math.max(0, ms) / this.#scale, signal);
  }
}

/**
 * ManualClock only moves when told to. `sleep` resolves once `advance` has moved the clock
 * past the sleeper's deadline, so unit tests of waiting logic are exact.
 */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: { at: number; resolve: () => void }[] = [];

  constructor(epoch = Date.UTC(2026, 0, 1)) {
    this.#now = epoch;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const sleeper = { at: this.#now + Math.max(0, ms), resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        "abort",
        () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** advance moves the clock forward by `ms` and wakes every sleeper whose time has come. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.at <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const s of due) s.resolve();
  }

  /**
   * advanceToNext moves the clock to the earliest sleeper's deadline and wakes it (and any
   * due at the same time). Returns false when nobody sleeps.
   */
  advanceToNext(): boolean {
    if (this.#sleepers.length === 0) return false;
    const next = Math.min(...this.#sleepers.map((s) => s.at));
    this.advance(Math.max(0, next - this.#now));
    return true;
  }

  /** pending is the number of sleepers not yet woken. */
  get pending(): number {
    return this.#sleepers.length;
  }
}

/** systemClock is real time. */
export const systemClock: Clock = new ScaledClock({ scale: 1 });

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
