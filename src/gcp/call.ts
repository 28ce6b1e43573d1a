import type { Clock } from "../clock/index.ts";
import { classify, errorFacts, GcpCallError, TRANSIENT_FAILURES } from "./errors.ts";
import type { CallClass, RateLimiter } from "./ratelimit.ts";

/** CallMeta describes one API call for rate limiting, retries, metrics and messages. */
export interface CallMeta extends CallClass {
  /**
   * The resource the call is about, or the parent a list reads (`projects/p/locations/l`),
   * for messages when it fails.
   */
  readonly resource?: string | undefined;
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

const MINUTE = 60_000;

/** CallObserver hears about every finished call attempt (metrics, request counting). */
export type CallObserver = (meta: CallMeta, outcome: { code: number; ms: number }) => void;

/** Options of {@link GcpCaller}. */
export interface GcpCallerOptions {
  readonly clock: Clock;
  readonly limiter: RateLimiter;
  /**
   * Attempts per call, the first included, for throttling and transient errors.
   * @default 6
   */
  readonly maxAttempts?: number;
  /**
   * Real milliseconds after the first attempt within which a transient failure (no
   * answer, a timeout, a 5xx) is still retried: it bounds how long a command waits on a
   * network that is down, however long each attempt takes to fail. Throttling is not
   * bounded by it: waiting for quota is expected.
   * @default 60_000
   */
  readonly retryWindowMs?: number;
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

/** errorCode returns the gRPC code a client library error carries (2 UNKNOWN when none). */
export function errorCode(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : 2;
}

/** isConflict says whether an error is an optimistic-concurrency conflict (etag, fingerprint, settingsVersion). */
export function isConflict(err: unknown): boolean {
  return classify(err) === "conflict";
}

/**
 * GcpCaller runs every GCP call: within its rate budget, with the libraries' own
 * retries off, retrying a throttled call (however its API signals it: src/gcp/errors.ts)
 * after the delay GCP asks for (and slowing that budget down) and transient failures
 * with exponential backoff — never immediately, never forever. A call it gives up on
 * rejects with a {@link GcpCallError} that says which call failed, after how many
 * attempts, and what kind of failure it was.
 */
export class GcpCaller {
  readonly #clock: Clock;
  readonly limiter: RateLimiter;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #random: () => number;
  readonly #observer: CallObserver | undefined;
  readonly #retryWindowMs: number;

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
    this.#retryWindowMs = options.retryWindowMs ?? 60_000;
    if (!(this.#retryWindowMs >= 0)) {
      throw new TypeError(`Expected \`retryWindowMs\` to be a number >= 0, got \`${options.retryWindowMs}\``);
    }
  }

  /** call runs `fn` under the rules above and returns its result or its last error. */
  async call<T>(meta: CallMeta, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const first = this.#clock.now();
    const firstReal = performance.now();
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
        this.#observer?.(meta, { code: errorCode(err), ms: this.#clock.now() - started });
        if (signal?.aborted) throw err;
        const failure = classify(err);
        const giveUp = () => giveUpOn(err, meta, attempt, this.#clock.now() - first);
        if (attempt >= this.#maxAttempts) throw giveUp();
        if (failure === "throttled") {
          // Honour RetryInfo. Without it (rate quota answers carry none), wait for the
          // quota to refill, which GCP does "at the start of the next synchronized
          // interval, such as 10:01:00, rather than refilling immediately"
          // (https://cloud.google.com/compute/api-quota), plus a second for clock skew.
          const now = this.#clock.now();
          const delay = errorFacts(err).retryDelayMs ?? MINUTE - (now % MINUTE) + 1000;
          this.limiter.throttled(meta, delay);
          continue;
        }
        if (TRANSIENT_FAILURES.has(failure)) {
          // The window is real time, like the per-attempt deadline: it bounds a person's
          // wait on a network that is down, which a scaled clock does not shorten.
          if (performance.now() - firstReal > this.#retryWindowMs) throw giveUp();
          await this.#clock.sleep(this.#backoff(attempt), signal);
          continue;
        }
        throw giveUp();
      }
    }
  }

  #backoff(attempt: number): number {
    const base = this.#backoffMs * 2 ** (attempt - 1);
    return Math.min(60_000, base * (0.5 + this.#random()));
  }
}

/**
 * giveUpOn is the error a call rejects with when capstan stops retrying it: a
 * {@link GcpCallError} for a Google API or transport failure, the error itself for
 * anything else (a bug in building the request is not a GCP failure).
 */
function giveUpOn(err: unknown, meta: CallMeta, attempts: number, elapsedMs: number): unknown {
  if (err instanceof GcpCallError) return err;
  const e = err as { code?: unknown; httpStatusCode?: unknown } | null;
  const fromGcp = typeof e?.code === "number" || typeof e?.httpStatusCode === "number";
  if (!fromGcp && classify(err) !== "network") return err;
  return new GcpCallError(
    err,
    { api: meta.api, method: meta.method, resource: meta.resource, location: meta.location },
    attempts,
    elapsedMs,
  );
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
