/**
 * The public face of src/controller: `capstan run`'s loop, its lease, work queue,
 * status, HTTP endpoint, metrics and logs.
 */
export {
  ANNOTATION_ON_DRIFT,
  ANNOTATION_SUSPEND,
  Controller,
  ControllerError,
  type ControllerOptions,
  specHash,
} from "./controller.ts";
export type { ControllerEvent, ControllerObserver } from "./events.ts";
export {
  answer,
  type ExtraRoutes,
  type HttpAnswer,
  StatusServer,
  type StatusServerOptions,
  type StatusSource,
} from "./http.ts";
export { createLogger, LABELS_KEY, type LoggerOptions, looksSecret, REDACTED, redact } from "./log.ts";
export { ControllerMetrics, type ControllerMetricsOptions, codeName } from "./metrics.ts";
export { type Admission, WorkQueue, type WorkQueueOptions } from "./queue.ts";
export {
  contentRevision,
  DirSource,
  type DirSourceOptions,
  GitSource,
  type GitSourceOptions,
  SourceError,
  type SpecSnapshot,
  type SpecSource,
} from "./source.ts";
export {
  type AppliedRevision,
  type Condition,
  type ConditionType,
  type ControllerStatus,
  conditionOf,
  type PassSummary,
  type Reason,
  type ResourceStatus,
  renderStatus,
} from "./status.ts";
export { policyMates, restrictPlan } from "./subset.ts";
