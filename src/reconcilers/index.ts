import type { Reconcilers } from "../plan/build.ts";
import { backendServiceReconciler } from "./backend-service.ts";
import { cloudRunServiceReconciler } from "./cloud-run-service.ts";
import { healthCheckReconciler } from "./health-check.ts";
import { sqlInstanceReconciler } from "./sql-instance.ts";
import { vpcConnectorReconciler } from "./vpc-connector.ts";

export type {
  CheckResult,
  Observed,
  Readiness,
  Reconciler,
  ResourceRef,
  Scope,
  WriteResult,
} from "./types.ts";

/** RECONCILERS are the reconcilers of every kind capstan manages. */
export const RECONCILERS: Reconcilers = {
  VpcConnector: vpcConnectorReconciler,
  SqlInstance: sqlInstanceReconciler,
  BackendService: backendServiceReconciler,
  HealthCheck: healthCheckReconciler,
  CloudRunService: cloudRunServiceReconciler,
} as Reconcilers;
