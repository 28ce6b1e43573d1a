import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { compute } from "./compute/index.ts";
import { type Fixture, Simulator, type SimulatorOptions } from "./core/server.ts";
import type { SimServiceFactory } from "./core/types.ts";
import { kubernetes } from "./kubernetes/index.ts";
import { connectLoadModel, loadModel } from "./load/index.ts";
import { monitoring } from "./monitoring/index.ts";
import { resourceManager } from "./resourcemanager/index.ts";
import { cloudRun } from "./run/index.ts";
import { secretManager } from "./secretmanager/index.ts";
import { serviceUsage } from "./serviceusage/index.ts";
import { cloudSql } from "./sqladmin/index.ts";
import { storage } from "./storage/index.ts";
import { vpcAccess } from "./vpcaccess/index.ts";

export type { AccessFixture } from "./core/access.ts";
export type { FaultInput, FaultRule } from "./core/faults.ts";
export type { FaultType } from "./core/gcp-errors.ts";
export type { QuotaLimit } from "./core/quotas.ts";
export type { Fixture, RequestLogEntry, SimulatorOptions } from "./core/server.ts";
export { Simulator } from "./core/server.ts";
export type { EditRequest, SimService } from "./core/types.ts";

/** ALL_SERVICES are every simulated GCP API, in the order their routes are matched. */
export const ALL_SERVICES: readonly SimServiceFactory[] = [
  secretManager,
  cloudSql,
  vpcAccess,
  compute,
  cloudRun,
  monitoring,
  resourceManager,
  serviceUsage,
  // Served by path, not by proto: the lease's Cloud Storage objects and Kubernetes Lease.
  storage,
  kubernetes,
  // Last: its snapshots read the other services, which a fixture must have loaded first.
  loadModel,
];

/** createSimulator builds a simulator of every API capstan uses. */
export function createSimulator(options: Omit<SimulatorOptions, "services"> = {}): Simulator {
  const sim = new Simulator({ services: ALL_SERVICES, ...options });
  // The load model reads the other services' live state, which a service factory cannot reach.
  connectLoadModel(sim);
  return sim;
}

/** loadFixture reads a YAML (or JSON) simulator fixture. */
export async function loadFixture(path: string): Promise<Fixture> {
  const doc = parseYaml(await readFile(path, "utf8")) as Fixture | null;
  return doc ?? {};
}
