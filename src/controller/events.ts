import type { ApplyReport } from "../apply/execute.ts";
import type { ProgressEvent } from "../apply/progress.ts";
import type { PlanResult } from "../plan/build.ts";
import type { PassSummary, Reason } from "./status.ts";

/**
 * ControllerEvent is one thing `capstan run` did, as data, for observers such as the
 * dashboard (src/dashboard): passes, plans, each run of the executor and its progress,
 * drift, condition changes and the lease. Objects passed by reference (a PlanResult, a
 * report) belong to the controller: an observer reads what it needs and keeps no
 * reference, so memory stays bounded however long capstan runs.
 */
export type ControllerEvent =
  | { readonly type: "pass-started"; readonly pass: number; readonly leader: boolean }
  /** The pass observed live state and planned the whole spec set. */
  | { readonly type: "planned"; readonly pass: number; readonly result: PlanResult }
  /** The executor starts on the plan of one group of resources (`result` is that group's). */
  | {
      readonly type: "execution-started";
      readonly pass: number;
      readonly execution: number;
      readonly result: PlanResult;
    }
  | {
      readonly type: "progress";
      readonly pass: number;
      readonly execution: number;
      readonly event: ProgressEvent;
    }
  | {
      readonly type: "execution-finished";
      readonly pass: number;
      readonly execution: number;
      readonly report: ApplyReport;
    }
  | {
      readonly type: "drift-found";
      readonly address: string;
      readonly fields: readonly string[];
      readonly action: "corrected" | "reported";
    }
  /** A resource's Ready condition changed status or reason. */
  | {
      readonly type: "condition";
      readonly address: string;
      readonly ready: boolean;
      readonly reason: Reason;
      readonly previous: Reason | undefined;
      readonly message: string;
    }
  | { readonly type: "lease"; readonly leader: boolean; readonly holder: string | undefined }
  | { readonly type: "pass-finished"; readonly summary: PassSummary };

/** ControllerObserver receives the controller's events, synchronously; it must not throw or block. */
export type ControllerObserver = (event: ControllerEvent) => void;
