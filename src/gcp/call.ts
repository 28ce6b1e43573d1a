import type { Clock } from "../clock/index.ts";
import type { CallClass, RateLimiter } from "./ratelimit.ts";

/** CallMeta describes one API call for rate limiting, retries and metrics. */
export interface CallMeta extends CallClass {
  /** The method, for metrics and messages, e.g. `services.update`. */
  readonly method: string;
  /**
   * Identifies a read whose answer may be shared within one plan (e.g.
   * `secretVersion:projects/p/secrets/s/versions/latest`): many services referencing one
   * secret cost one read. Ignored for writes.
   */
  readonly key?: string;
  /**
   * Real milliseconds one attempt may take before it is abandoned (cancelled, and
   * retried as DEADLINE_EXCEEDED).
   * @default DEFAULT_DEADLINE_MS
   */
  readonly deadlineMs?: number;
}

/** GaxCallOptions are the gax call options capstan passes on every call. */
export interface GaxCallOptions {
  readonly retry: null;
  readonly timeout: number;
}

/**
 * gaxCallOptions returns the options of one client call, a fresh object each time (the
 * clients write routing headers into the options they are given):
 * - `retry: null` turns off the libraries' own retries: they sleep on real timers and
 *   retry without regard to quota. capstan retries itself, on its clock, honouring
 *   RetryInfo.
 * - `timeout: Infinity` turns off the libraries' own deadline. gax's REST transport
 *   (google-gax build/src/fallbackServiceStub.js) arms an `AbortSignal.timeout` per call
 *   with an abort listener, which Node keeps alive until it fires (60 s for Run, SQL and
 *   VPC Access, 600 s for Compute, from each client's *_client_config.json) together with
 *   the call's request and response: a busy controller piles up hundreds of megabytes
 *   of finished calls. A non-finite deadline arms nothing; {@link GcpCaller} applies its
 *   own deadline per attempt and clears it the moment the call settles.
 */
export function gaxCallOptions(): GaxCallOptions {
  return { retry: null, timeout: Number.POSITIVE_INFINITY };
}

/**
 * DEFAULT_DEADLINE_MS is how long one attempt of a call may take: the clients' own
 * default for these APIs (timeout_millis 60000 in the Run, SQL and VPC Access client
 * configs). Compute's `globalOperations.wait` blocks up to 2 minutes by design
 * (https://cloud.google.com/compute/docs/reference/rest/v1/globalOperations/wait), so it
 * states a longer one in its CallMeta.
 */
export const DEFAULT_DEADLINE_MS = 60_000;

/** CallObserver hears about every finished call attempt (metrics, request counting). */
export type CallObserver = (meta: CallMeta, outcome: { code: number; ms: number }) => void;

/** Options of {@link GcpCaller}. */
export interface GcpCallerOptions {
  readonly clock: Clock;
  readonly limiter: RateLimiter;
  /**
   * Attempts per call, the first included, for 429 and transient errors.
   * @default 6
   */
  readonly maxAttempts?: number;
  /**
   * First backoff after a transient error (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED); it
   * doubles per attempt, with jitter from `random`.
   * @default 1000
   */
  readonly backoffMs?: number;
  /** @default Math.random */
  readonly random?: () => number;
  readonly observer?: CallObserver | undefined;
}

/** gRPC codes (google/rpc/code.proto) capstan reacts to. */
export const Code = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

const TRANSIENT = new Set<number>([Code.UNAVAILABLE, Code.INTERNAL, Code.DEADLINE_EXCEEDED]);

/** errorCode returns the gRPC code a client library error carries (2 UNKNOWN when none). */
export function errorCode(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : 2;
}

/** errorReason returns the ErrorInfo reason of a client library error, if any. */
export function errorReason(err: unknown): string | undefined {
  const reason = (err as { reason?: unknown } | null)?.reason;
  return typeof reason === "string" ? reason : undefined;
}

/**
 * retryDelayMs reads google.rpc.RetryInfo from a client library error: gax decodes the
 * details into `statusDetails`, with `retryDelay` as a protobuf Duration.
 */
export function retryDelayMs(err: unknown): number | undefined {
  const details = (err as { statusDetails?: unknown } | null)?.statusDetails;
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    const delay = (d as { retryDelay?: { seconds?: unknown; nanos?: unknown } } | null)?.retryDelay;
    if (delay) return Number(delay.seconds ?? 0) * 1000 + Math.round(Number(delay.nanos ?? 0) / 1e6);
  }
  return undefined;
}

/** isConflict says whether an error is an optimistic-concurrency conflict (etag, fingerprint, settingsVersion). */
export function isConflict(err: unknown): boolean {
  const code = errorCode(err);
  const http = (err as { httpStatusCode?: unknown } | null)?.httpStatusCode;
  return code === Code.ABORTED || http === 412;
}

/**
 * GcpCaller runs every GCP call: within its rate budget, with the libraries' own
 * retries off, retrying 429 after the delay GCP asks for (and slowing that budget down)
 * and transient errors with exponential backoff — never immediately, never forever.
 */
export class GcpCaller {
  readonly #clock: Clock;
  readonly limiter: RateLimiter;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #random: () => number;
  readonly #observer: CallObserver | undefined;

  constructor(options: GcpCallerOptions) {
    this.#clock = options.clock;
    this.limiter = options.limiter;
    this.#maxAttempts = options.maxAttempts ?? 6;
    if (!Number.isInteger(this.#maxAttempts) || this.#maxAttempts < 1) {
      throw new TypeError(`Expected \`maxAttempts\` to be an integer >= 1, got \`${options.maxAttempts}\``);
    }
    this.#backoffMs = options.backoffMs ?? 1000;
    this.#random = options.random ?? Math.random;
    this.#observer = options.observer;
  }

  /** call runs `fn` under the rules above and returns its result or its last error. */
  async call<T>(meta: CallMeta, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const started = this.#clock.now();
      try {
        const result = await this.limiter.run(
          meta,
          () => withDeadline(fn(), meta.deadlineMs ?? DEFAULT_DEADLINE_MS, meta.method),
          signal,
        );
        this.limiter.succeeded(meta);
        this.#observer?.(meta, { code: Code.OK, ms: this.#clock.now() - started });
        return result;
      } catch (err) {
        const code = errorCode(err);
        this.#observer?.(meta, { code, ms: this.#clock.now() - started });
        if (signal?.aborted || attempt >= this.#maxAttempts) throw err;
        if (code === Code.RESOURCE_EXHAUSTED) {
          // Honour RetryInfo; without it, wait a full quota window's share.
          const delay = retryDelayMs(err) ?? this.#backoff(attempt);
          this.limiter.throttled(meta, delay);
          continue;
        }
        if (TRANSIENT.has(code)) {
          await this.#clock.sleep(this.#backoff(attempt), signal);
          continue;
        }
        throw err;
      }
    }
  }

  #backoff(attempt: number): number {
    const base = this.#backoffMs * 2 ** (attempt - 1);
    return Math.min(60_000, base * (0.5 + this.#random()));
  }
}

/**
 * withDeadline settles as `call` does, or rejects with DEADLINE_EXCEEDED (a transient
 * error, so the caller retries) when it has not settled within `ms` real milliseconds,
 * cancelling it if it can be (gax's CancellablePromise aborts its HTTP request). It is a
 * real-time timer, not capstan's clock: it bounds a network wait, which scaled time does
 * not shorten. The timer is cleared when the call settles, so nothing of a finished call
 * stays reachable from it.
 */
export function withDeadline<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      (call as Promise<T> & { cancel?: () => void }).cancel?.();
      const err = new Error(`${what} did not answer within ${ms / 1000} s`);
      reject(Object.assign(err, { code: Code.DEADLINE_EXCEEDED }));
    }, ms);
    call.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
