/**
 * A seeded pseudo-random number generator for the chaos suite: mulberry32, 32 bits of
 * state, fast and good enough to draw fault schedules. No dependency, and the same seed
 * gives the same sequence on every platform (only 32-bit integer arithmetic).
 */

/** Rng draws reproducible random values from a 32-bit seed. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new TypeError(`Expected \`seed\` to be an integer, got \`${seed}\``);
    this.#state = seed >>> 0;
  }

  /** next returns a float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** int returns an integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (max < min) throw new RangeError(`Expected max >= min, got [${min}, ${max}]`);
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** chance returns true with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** pick returns one element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Expected a non-empty list to pick from");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** weighted picks a key with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((n, [, w]) => n + w, 0);
    let x = this.next() * total;
    for (const [k, w] of entries) {
      x -= w;
      if (x < 0) return k;
    }
    return entries.at(-1)![0];
  }
}

/**
 * deriveSeed gives run `index` of a suite seeded with `seed` its own 32-bit seed, so any
 * one run can be replayed alone (`--run-seed`) without replaying the runs before it.
 */
export function deriveSeed(seed: number, index: number): number {
  // splitmix32-style finaliser over (seed, index): neighbouring indexes give unrelated seeds.
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** hex prints a seed the way the runner shows and accepts it: `0x` and 8 hex digits. */
export function hex(seed: number): string {
  return `0x${(seed >>> 0).toString(16).padStart(8, "0")}`;
}

/** parseSeed reads a seed written in decimal or `0x` hex. */
export function parseSeed(text: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text.slice(2), 16) : Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new TypeError(`Expected a seed from 0 to 0xffffffff, got \`${text}\``);
  }
  return n;
}
