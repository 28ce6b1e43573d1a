import type { Clock } from "../clock/index.ts";

/**
 * OperationStatus is the API-neutral state of a long-running operation. Each GCP API
 * shapes operations differently (google.longrunning.Operation for Run and VPC Access,
 * `sql#operation` for Cloud SQL, `compute#operation` for Compute); pollers in
 * src/gcp/<api>.ts translate theirs into this.
 */
export interface OperationStatus {
  readonly done: boolean;
  /** Set when the operation finished with an error. */
  readonly error?: { readonly code: number; readonly message: string } | undefined;
}

/** OperationPoller reads an operation's state once. */
export type OperationPoller = (signal?: AbortSignal) => Promise<OperationStatus>;

/** Options of {@link waitForOperation}. */
export interface WaitOptions {
  readonly clock: Clock;
  /** Give up after this much clock time. */
  readonly timeoutMs: number;
  /**
   * First poll interval; it doubles up to `maxIntervalMs`.
   * @default 1000
   */
  readonly intervalMs?: number;
  /** @default 10000 */
  readonly maxIntervalMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** What is awaited, for messages, e.g. `Cloud SQL operation abc on instance db`. */
  readonly what: string;
}

/** OperationError is an operation that failed or did not finish in time. */
export class OperationError extends Error {
  readonly code: "OPERATION_FAILED" | "OPERATION_TIMEOUT";
  readonly status: OperationStatus | undefined;

  constructor(
    code: OperationError["code"],
    message: string,
    status?: OperationStatus,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = "OperationError";
    this.code = code;
    this.status = status;
  }
}

/**
 * waitForOperation polls until the operation is done, with exponential backoff on the
 * injected clock, and throws OperationError when it fails or times out.
 */
export async function waitForOperation(
  poll: OperationPoller,
  options: WaitOptions,
): Promise<OperationStatus> {
  const { clock, timeoutMs, signal, what } = options;
  const deadline = clock.now() + timeoutMs;
  let interval = options.intervalMs ?? 1000;
  const maxInterval = options.maxIntervalMs ?? 10_000;
  for (;;) {
    signal?.throwIfAborted();
    const status = await poll(signal);
    if (status.done) {
      if (status.error) {
        throw new OperationError("OPERATION_FAILED", `${what} failed: ${status.error.message}`, status);
      }
      return status;
    }
    const left = deadline - clock.now();
    if (left <= 0) {
      throw new OperationError(
        "OPERATION_TIMEOUT",
        `${what} did not finish within ${Math.round(timeoutMs / 1000)}s`,
        status,
      );
    }
    await clock.sleep(Math.min(interval, left), signal);
    interval = Math.min(interval * 2, maxInterval);
  }
}
