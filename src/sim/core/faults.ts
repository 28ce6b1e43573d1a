import type { Status } from "./errors.ts";
import { FAULT_TYPES, type FaultType } from "./gcp-errors.ts";

/** FaultMatch selects calls. Every given field must match. */
export interface FaultMatch {
  /** API, e.g. `sqladmin.googleapis.com`. */
  readonly api?: string;
  /** HTTP method, e.g. `PATCH`. */
  readonly method?: string;
  /** RPC full name or its last segment(s), e.g. `SqlInstancesService.Patch` or `Patch`. */
  readonly rpc?: string;
  /** A regular expression the request path must match. */
  readonly path?: string;
  /**
   * The caller, as the request log names it (see RequestLogEntry.principal), so a fault
   * can cut off one process only (a partition of one `capstan run`).
   */
  readonly principal?: string;
}

/** FaultRule is an injected fault, as posted to `/__sim/faults`. */
export interface FaultRule {
  readonly id: string;
  readonly match: FaultMatch;
  /** How many matching calls it affects; omitted means every call until removed. */
  remaining: number | undefined;
  /**
   * Answer with this error instead of serving the call: either `type`, one of GCP's
   * failures rendered in the called API's exact format (src/sim/core/gcp-errors.ts:
   * `{"type": "SERVICE_DISABLED"}`, `{"type": "IAM_PERMISSION_DENIED", "permission":
   * "run.services.list"}`, `{"type": "RATE_LIMIT_EXCEEDED"}`, ...), or a plain canonical
   * `status` with optional HTTP code, message and ErrorInfo reason.
   */
  readonly error?: {
    readonly type?: FaultType;
    /** For IAM_PERMISSION_DENIED: the permission named (default: the one the RPC needs). */
    readonly permission?: string;
    readonly status?: Status;
    readonly httpCode?: number;
    readonly message?: string;
    readonly reason?: string;
  };
  /** Delay the answer by this many milliseconds of clock time. */
  readonly latencyMs?: number;
  /** Serve the call, but make the long-running operation it starts fail with this message. */
  readonly failOperation?: { readonly message?: string; readonly status?: Status };
}

/** FaultInput is the body of `POST /__sim/faults`. */
export type FaultInput = Omit<FaultRule, "id" | "remaining"> & { readonly times?: number };

/** Faults holds the injected faults and decides which apply to a call. */
export class Faults {
  #rules: FaultRule[] = [];
  #seq = 0;

  /** add registers a fault and returns it. */
  add(input: FaultInput): FaultRule {
    if (!input.match || typeof input.match !== "object") {
      throw new TypeError('Expected `match` to be an object like {"rpc": "Patch"}');
    }
    if (!input.error && input.latencyMs === undefined && !input.failOperation) {
      throw new TypeError("Expected one of `error`, `latencyMs` or `failOperation`");
    }
    if (input.error && input.error.type === undefined && input.error.status === undefined) {
      throw new TypeError("Expected `error` to have a `type` or a `status`");
    }
    if (input.error?.type !== undefined && !FAULT_TYPES.includes(input.error.type)) {
      throw new TypeError(
        `Expected \`error.type\` to be one of ${FAULT_TYPES.join(", ")}, got \`${input.error.type}\``,
      );
    }
    const rule: FaultRule = { ...input, id: `fault-${++this.#seq}`, remaining: input.times };
    this.#rules.push(rule);
    return rule;
  }

  /** clear removes every fault. */
  clear(): void {
    this.#rules = [];
  }

  /** list returns the active faults. */
  list(): readonly FaultRule[] {
    return this.#rules;
  }

  /**
   * take returns the first active rule of the given sort that matches the call and
   * consumes one of its uses.
   */
  take(sort: "error" | "latencyMs" | "failOperation", call: FaultCall): FaultRule | undefined {
    const rule = this.#rules.find((r) => r[sort] !== undefined && matches(r.match, call));
    if (!rule) return undefined;
    if (rule.remaining !== undefined) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.#rules = this.#rules.filter((r) => r !== rule);
    }
    return rule;
  }
}

/** FaultCall is what a fault is matched against. */
export interface FaultCall {
  readonly api: string;
  readonly method: string;
  readonly rpc: string;
  readonly path: string;
  readonly principal?: string | undefined;
}

function matches(m: FaultMatch, call: FaultCall): boolean {
  if (m.principal && m.principal !== call.principal) return false;
  if (m.api && m.api !== call.api) return false;
  if (m.method && m.method.toUpperCase() !== call.method) return false;
  if (m.rpc && call.rpc !== m.rpc && !call.rpc.endsWith(`.${m.rpc}`)) return false;
  if (m.path && !new RegExp(m.path).test(call.path)) return false;
  return true;
}
