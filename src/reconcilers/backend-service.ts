import type { protos } from "@google-cloud/compute";
import { deepEqual, type FieldChange } from "../diff/index.ts";
import type { Gcp } from "../gcp/access.ts";
import { gaxCallOptions } from "../gcp/call.ts";
import { BACKEND_SERVICE_LIMITS, checkBackendServiceSettings } from "../gcp/catalog/compute.ts";
import { COMPUTE_API, computeUrl, relativeComputeName } from "../gcp/compute.ts";
import { names } from "../gcp/names.ts";
import type { OperationPoller } from "../gcp/operations.ts";
import { getOrUndefined, listAllPages } from "../gcp/read.ts";
import type { Disruption } from "../plan/model.ts";
import type { Backend, BackendServiceSpec, OutlierDetectionSpec, Resource } from "../spec/types.ts";
import {
  COMPUTE_LIST_PAGE_SIZE,
  computeReadiness,
  pendingComputeOperation,
  runningGlobalOperations,
  startedPoller,
} from "./compute.ts";
import type {
  CheckResult,
  Observed,
  Reconciler,
  ResourceRef,
  Scope,
  WriteOptions,
  WriteResult,
} from "./types.ts";

type IBackendService = protos.google.cloud.compute.v1.IBackendService;
type IBackend = protos.google.cloud.compute.v1.IBackend;
type IDuration = protos.google.cloud.compute.v1.IDuration;
type IOutlierDetection = protos.google.cloud.compute.v1.IOutlierDetection;
type INetworkEndpointGroup = protos.google.cloud.compute.v1.INetworkEndpointGroup;
type IOperation = protos.google.cloud.compute.v1.IOperation;

/**
 * BackendServiceLive is a backend service as read, plus the regional network endpoint
 * groups its backends name. A backend only says `group: <NEG URL>`: whether that NEG is
 * serverless, and which Cloud Run service it sends traffic to, is known only to the NEG
 * itself (NetworkEndpointGroup.networkEndpointType and .cloudRun in compute.proto), so
 * reading a backend service means reading its NEGs too, and normalising needs both.
 */
export interface BackendServiceLive {
  /** The API object, untouched: writes send its unmanaged fields back as they are. */
  readonly backendService: IBackendService;
  /** The regional NEGs the backends name, by relative name; a NEG that could not be found is absent. */
  readonly negs: Readonly<Record<string, INetworkEndpointGroup>>;
}

/**
 * BACKEND_SERVICE_DEFAULTS are the values Compute reports for fields a backend service
 * was created without: protocol HTTP and scheme EXTERNAL (a recorded GET in
 * GoogleCloudPlatform/k8s-config-connector, mockgcp/mockcompute/testdata/backendservice/crud/_http.log),
 * timeoutSec 30 ("The default is 30 seconds", BackendService.timeout_sec in
 * compute.proto; serverless NEG backends have none), draining 0
 * (https://cloud.google.com/load-balancing/docs/enabling-connection-draining), logging
 * off at sample rate 1.0 ("The default value is false" / "The default value is 1.0",
 * BackendServiceLogConfig in compute.proto).
 */
export const BACKEND_SERVICE_DEFAULTS = {
  protocol: "HTTP",
  loadBalancingScheme: "EXTERNAL",
  timeoutSec: BACKEND_SERVICE_LIMITS.timeoutSec.default,
  drainingTimeoutSec: BACKEND_SERVICE_LIMITS.drainingTimeoutSec.default,
  logEnable: false,
  logSampleRate: 1,
} as const;

/**
 * OUTLIER_DETECTION_DEFAULTS are what Compute applies for the OutlierDetection fields a
 * backend service leaves out, from the field comments of OutlierDetection in
 * google/cloud/compute/v1/compute.proto ("Defaults to 5", "Defaults to 30000ms or 30s",
 * ...). They fill in only when outlier detection is configured at all: a backend service
 * without it has the feature off, so a spec stating it shows every stated field as new.
 */
export const OUTLIER_DETECTION_DEFAULTS: Readonly<Required<OutlierDetectionSpec>> = {
  consecutiveErrors: 5,
  consecutiveGatewayFailure: 3,
  enforcingConsecutiveErrors: 0,
  enforcingConsecutiveGatewayFailure: 100,
  interval: 1,
  baseEjectionTime: 30,
  maxEjectionPercent: 50,
};

const OUTLIER_FIELDS = Object.keys(OUTLIER_DETECTION_DEFAULTS) as (keyof OutlierDetectionSpec)[];
const OUTLIER_DURATIONS = new Set<keyof OutlierDetectionSpec>(["interval", "baseEjectionTime"]);

/**
 * GROUP_BACKEND_DEFAULTS complete a `group` backend the way Compute does: balancing mode
 * UTILIZATION (what Compute reports for instance group backends created without one; the
 * simulator fills it the same way), capacity scaler 1 ("The default value is 1",
 * Backend.capacity_scaler in compute.proto) and, in UTILIZATION mode, a target
 * utilisation of 0.8 ("Used when balancingMode is UTILIZATION. This ratio defines the CPU
 * utilization target for the group. The default is 0.8", Backend.maxUtilization in the
 * compute v1 discovery document, as rendered at
 * https://docs.rs/google-compute1/1.0.7+20171122/google_compute1/struct.Backend.html).
 * The spec's entries are completed the same way, so an entry that leaves these out and a
 * live backend holding the defaults compare equal, and a write sends them explicitly.
 */
export const GROUP_BACKEND_DEFAULTS = {
  balancingMode: "UTILIZATION",
  capacityScaler: 1,
  maxUtilization: 0.8,
} as const;

/** BackendServiceWriteError is a change this reconciler cannot write. */
export class BackendServiceWriteError extends Error {
  /**
   * `UNWRITABLE_FIELD`: the change names a field capstan does not write;
   * `NEG_NOT_FOUND`: no serverless NEG sends traffic to a Cloud Run service a backend names
   * (capstan does not create NEGs).
   */
  readonly code: "UNWRITABLE_FIELD" | "NEG_NOT_FOUND";

  constructor(code: BackendServiceWriteError["code"], message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "BackendServiceWriteError";
    this.code = code;
  }
}

function backendServiceName(ref: Pick<ResourceRef, "project" | "id">): string {
  return names.computeBackendService.format({ project: ref.project, backendService: ref.id });
}

function projectOf(bs: IBackendService, fallback: string): string {
  const rel = bs.selfLink ? relativeComputeName(bs.selfLink) : undefined;
  return (rel && names.computeBackendService.parse(rel)?.project) ?? fallback;
}

/**
 * relativeReference turns a Compute reference in any form the API accepts (URL,
 * `projects/...`, or project-relative `zones/z/instanceGroups/g`) into the relative name
 * `projects/...`, which is how capstan compares them.
 */
function relativeReference(reference: string, project: string): string {
  const rel = relativeComputeName(reference);
  if (rel) return rel;
  if (/^(?:global|regions\/[^/]+|zones\/[^/]+)\//.test(reference)) return `projects/${project}/${reference}`;
  return reference;
}

/**
 * float32 rounds a value the way Compute stores `float` fields (sampleRate,
 * capacityScaler, maxUtilization, maxRatePerInstance are proto `float`), so 0.1 written
 * and 0.100000001 read back compare equal.
 */
function float32(v: number): number {
  return Number(Math.fround(v).toPrecision(7));
}

function seconds(d: IDuration | null | undefined): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds ?? 0) + Number(d.nanos ?? 0) / 1e9;
}

function duration(s: number): IDuration {
  const whole = Math.trunc(s);
  const nanos = Math.round((s - whole) * 1e9);
  return nanos ? { seconds: whole, nanos } : { seconds: whole };
}

/** serverlessTarget is the Cloud Run service a NEG sends all its traffic to, if it is such a NEG. */
function serverlessTarget(rel: string, neg: INetworkEndpointGroup | undefined): string | undefined {
  if (neg?.networkEndpointType !== "SERVERLESS") return undefined;
  const run = neg.cloudRun;
  // A tag routes to one tagged revision and a URL mask to services picked per request:
  // neither is "the service", which is all a spec can say.
  if (!run?.service || run.tag || run.urlMask) return undefined;
  const p = names.computeRegionNeg.parse(rel);
  return p && names.runService.format({ project: p.project, location: p.region, service: run.service });
}

/**
 * groupShape completes a `group` backend with Compute's defaults, for both the spec and
 * live, so the two compare equal exactly when a write of the spec's entry would leave the
 * backend as it is.
 */
function groupShape(b: {
  group: string;
  balancingMode?: string | null | undefined;
  capacityScaler?: number | null | undefined;
  maxUtilization?: number | null | undefined;
  maxRatePerInstance?: number | null | undefined;
}): Record<string, unknown> {
  const mode = b.balancingMode || GROUP_BACKEND_DEFAULTS.balancingMode;
  const out: Record<string, unknown> = {
    group: b.group,
    balancingMode: mode,
    capacityScaler: float32(b.capacityScaler ?? GROUP_BACKEND_DEFAULTS.capacityScaler),
  };
  const utilization =
    b.maxUtilization ?? (mode === "UTILIZATION" ? GROUP_BACKEND_DEFAULTS.maxUtilization : undefined);
  if (utilization !== undefined) out["maxUtilization"] = float32(utilization);
  if (b.maxRatePerInstance !== undefined && b.maxRatePerInstance !== null) {
    out["maxRatePerInstance"] = float32(b.maxRatePerInstance);
  }
  return out;
}

function backendKey(b: Record<string, unknown>): string {
  const neg = b["serverlessNeg"] as { service?: string; region?: string } | undefined;
  return neg ? `neg:${neg.service}@${neg.region}` : `group:${String(b["group"])}`;
}

/** Sets are kept sorted, so an unchanged set also compares equal in order (the executor's re-read does). */
function sortedBackends(list: Record<string, unknown>[]): Record<string, unknown>[] {
  return list.sort((a, b) => (backendKey(a) < backendKey(b) ? -1 : backendKey(a) > backendKey(b) ? 1 : 0));
}

function normalizeBackend(b: IBackend, live: BackendServiceLive, project: string): Record<string, unknown> {
  const group = relativeReference(String(b.group ?? ""), project);
  const service = serverlessTarget(group, live.negs[group]);
  if (service) {
    return { serverlessNeg: { service, region: names.computeRegionNeg.parse(group)!.region } };
  }
  return groupShape({ ...b, group });
}

function desiredBackend(b: Backend, project: string): Record<string, unknown> {
  if ("serverlessNeg" in b) {
    // The NEG's own name is not compared: two NEGs pointing at one service route alike,
    // and a live NEG cannot say whether a spec named it. `name` only picks the NEG that
    // a write attaches.
    return { serverlessNeg: { service: b.serverlessNeg.service.name, region: b.serverlessNeg.region } };
  }
  return groupShape({ ...b, group: relativeReference(b.group, project) });
}

/**
 * hasServerlessBackends says whether any backend of a backend service is a serverless NEG
 * (Cloud Run, App Engine, Cloud Functions, tagged or URL-mask), which makes Compute
 * refuse `timeoutSec`, health checks and `portName` on it (src/gcp/catalog/compute.ts).
 */
export function hasServerlessBackends(live: BackendServiceLive): boolean {
  const project = projectOf(live.backendService, "");
  return (live.backendService.backends ?? []).some(
    (b) => live.negs[relativeReference(String(b.group ?? ""), project)]?.networkEndpointType === "SERVERLESS",
  );
}

/** NegCache remembers the NEGs read during one list call: one get per distinct NEG, not per backend. */
type NegCache = Map<string, Promise<INetworkEndpointGroup | undefined>>;

function readNeg(
  gcp: Gcp,
  rel: string,
  cache: NegCache,
  signal?: AbortSignal,
): Promise<INetworkEndpointGroup | undefined> {
  const hit = cache.get(rel);
  if (hit) return hit;
  const p = names.computeRegionNeg.parse(rel)!;
  // Deleted since the backend service was read (404): the backend stays a plain group.
  const read = getOrUndefined(() =>
    gcp.call(
      { api: COMPUTE_API, method: "regionNetworkEndpointGroups.get", write: false, location: p.region },
      () =>
        gcp.clients.compute.regionNetworkEndpointGroups.get(
          { project: p.project, region: p.region, networkEndpointGroup: p.networkEndpointGroup },
          gaxCallOptions(),
        ),
      signal,
    ),
  ).then((got) => got?.[0]);
  cache.set(rel, read);
  return read;
}

/**
 * prefetchNegs lists the regional NEGs of every (project, region) the backend services'
 * backends name and seeds the cache with them, so observing N backend services costs one
 * list call per region (plus pages) instead of one get per NEG. NEGs absent from the list
 * resolve to undefined (deleted since), as a 404 on get would.
 */
async function prefetchNegs(
  gcp: Gcp,
  items: readonly IBackendService[],
  fallbackProject: string,
  cache: NegCache,
  signal?: AbortSignal,
): Promise<void> {
  const wanted = new Map<string, Set<string>>();
  for (const bs of items) {
    const project = projectOf(bs, fallbackProject);
    for (const b of bs.backends ?? []) {
      const rel = relativeReference(String(b.group ?? ""), project);
      const p = names.computeRegionNeg.parse(rel);
      if (!p) continue;
      const key = `${p.project}/${p.region}`;
      if (!wanted.has(key)) wanted.set(key, new Set());
      wanted.get(key)!.add(rel);
    }
  }
  await Promise.all(
    [...wanted].map(async ([key, rels]) => {
      const [project, region] = key.split("/") as [string, string];
      const found = new Map(await listRegionNegs(gcp, project, region, undefined, signal));
      for (const rel of rels) cache.set(rel, Promise.resolve(found.get(rel)));
    }),
  );
}

/**
 * listRegionNegs lists the network endpoint groups of one region, optionally filtered
 * server-side, following every page, each paired with its relative name.
 */
async function listRegionNegs(
  gcp: Gcp,
  project: string,
  region: string,
  filter: string | undefined,
  signal?: AbortSignal,
): Promise<[string, INetworkEndpointGroup][]> {
  const negs = await listAllPages(
    gcp,
    {
      api: COMPUTE_API,
      method: "regionNetworkEndpointGroups.list",
      write: false,
      location: region,
      resource: `projects/${project}/regions/${region}`,
    },
    (page, options) =>
      gcp.clients.compute.regionNetworkEndpointGroups.list(
        { project, region, ...(filter ? { filter } : {}), maxResults: COMPUTE_LIST_PAGE_SIZE, ...page },
        options,
      ),
    signal,
  );
  return negs.map((neg) => [
    names.computeRegionNeg.format({ project, region, networkEndpointGroup: String(neg.name) }),
    neg,
  ]);
}

/**
 * withNegs reads the regional NEGs a backend service's backends name. Zonal NEGs and
 * instance groups are never serverless, so only regional NEGs are read.
 */
async function withNegs(
  gcp: Gcp,
  bs: IBackendService,
  project: string,
  cache: NegCache,
  signal?: AbortSignal,
): Promise<BackendServiceLive> {
  const negs: Record<string, INetworkEndpointGroup> = {};
  const rels = new Set<string>();
  for (const b of bs.backends ?? []) {
    const rel = relativeReference(String(b.group ?? ""), project);
    if (names.computeRegionNeg.parse(rel)) rels.add(rel);
  }
  await Promise.all(
    [...rels].map(async (rel) => {
      const neg = await readNeg(gcp, rel, cache, signal);
      if (neg) negs[rel] = neg;
    }),
  );
  return { backendService: bs, negs };
}

function observe(
  live: BackendServiceLive,
  project: string,
  running: readonly IOperation[],
): Observed<BackendServiceLive> {
  const bs = live.backendService;
  const id = String(bs.name ?? "");
  const name = backendServiceName({ project, id });
  return {
    ref: { kind: "BackendService", project, location: "global", id },
    name,
    live,
    version: bs.fingerprint || undefined,
    readiness: computeReadiness(bs.selfLink ?? computeUrl(name), running),
  };
}

/**
 * findServerlessNeg finds a NEG in `region` that sends all its traffic to the Cloud Run
 * service `service` (full name), by listing the region's NEGs: a spec may name a service
 * without naming its NEG. Several match: the first by name, so the choice is stable.
 */
async function findServerlessNeg(
  gcp: Gcp,
  service: string,
  region: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const svc = names.runService.parse(service);
  if (!svc) return undefined;
  const negs = await listRegionNegs(gcp, svc.project, region, `cloudRun.service = "${svc.service}"`, signal);
  const found = negs.filter(([rel, neg]) => serverlessTarget(rel, neg) === service).map(([rel]) => rel);
  return found.sort()[0];
}

interface DesiredServerless {
  readonly service: string;
  readonly region: string;
}

/**
 * writeBackends builds the whole `backends` list a patch carries (Compute replaces lists
 * whole). A spec that states `backends` manages the entire list, as a set: a live backend
 * it does not name is removed. A backend it does name starts from the live entry, so the
 * entry's unmanaged fields (description, failover, maxConnections, custom metrics) are
 * sent back unchanged; its managed fields are set as the spec's entry says.
 */
async function writeBackends(
  gcp: Gcp,
  observed: Observed<BackendServiceLive>,
  resource: Resource<"BackendService">,
  after: readonly Record<string, unknown>[],
  signal?: AbortSignal,
): Promise<IBackend[]> {
  const project = observed.ref.project;
  const live = observed.live;
  const liveBackends = (live.backendService.backends ?? []).map((b) => ({
    raw: b,
    shape: normalizeBackend(b, live, project),
    group: relativeReference(String(b.group ?? ""), project),
  }));
  const out: IBackend[] = [];
  for (const entry of after) {
    const neg = entry["serverlessNeg"] as DesiredServerless | undefined;
    if (neg) {
      const same = liveBackends.find((l) => deepEqual(l.shape, entry));
      if (same) {
        out.push(same.raw);
        continue;
      }
      const named = (resource.spec.backends ?? []).find(
        (b) =>
          "serverlessNeg" in b &&
          b.serverlessNeg.service.name === neg.service &&
          b.serverlessNeg.region === neg.region,
      );
      const svcProject = names.runService.parse(neg.service)?.project ?? project;
      const stated =
        named && "serverlessNeg" in named && named.serverlessNeg.name
          ? names.computeRegionNeg.format({
              project: svcProject,
              region: neg.region,
              networkEndpointGroup: named.serverlessNeg.name,
            })
          : undefined;
      const rel = stated ?? (await findServerlessNeg(gcp, neg.service, neg.region, signal));
      if (!rel) {
        throw new BackendServiceWriteError(
          "NEG_NOT_FOUND",
          `could not update ${observed.name}: no serverless NEG in ${neg.region} sends traffic to ${neg.service}; create one (gcloud compute network-endpoint-groups create --region=${neg.region} --network-endpoint-type=serverless --cloud-run-service=${names.runService.parse(neg.service)?.service ?? neg.service}) or name it in serverlessNeg.name`,
        );
      }
      out.push({ group: computeUrl(rel) });
      continue;
    }
    const group = String(entry["group"]);
    const base: IBackend = { ...(liveBackends.find((l) => l.group === group)?.raw ?? {}) };
    base.group = computeUrl(group);
    base.balancingMode = String(entry["balancingMode"]);
    base.capacityScaler = Number(entry["capacityScaler"]);
    if (entry["maxUtilization"] === undefined) delete base.maxUtilization;
    else base.maxUtilization = Number(entry["maxUtilization"]);
    if (entry["maxRatePerInstance"] === undefined) delete base.maxRatePerInstance;
    else base.maxRatePerInstance = Number(entry["maxRatePerInstance"]);
    out.push(base);
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * backendServiceReconciler manages global Compute Engine backend services
 * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices): protocol,
 * scheme, timeout, connection draining, health checks, logging, outlier detection and
 * backends, with serverless NEG backends named by their Cloud Run service. A write is one
 * `backendServices.patch` (JSON merge patch) carrying only the changed fields and the
 * fingerprint read with the resource: "An up-to-date fingerprint must be provided in
 * order to update the BackendService, otherwise the request will fail with error 412
 * conditionNotMet" (REST reference, `fingerprint`).
 */
export const backendServiceReconciler = {
  kind: "BackendService",
  diffOptions: { setLists: ["healthChecks", "backends"] },

  scopeOf(ref: ResourceRef): Scope {
    // Global backend services are listed per project.
    return { project: ref.project, location: "global" };
  },

  fullName(ref: ResourceRef): string {
    return backendServiceName(ref);
  },

  async list(gcp: Gcp, scope: Scope, signal?: AbortSignal): Promise<Observed<BackendServiceLive>[]> {
    const items = await listAllPages(
      gcp,
      {
        api: COMPUTE_API,
        method: "backendServices.list",
        write: false,
        location: "global",
        resource: `projects/${scope.project}/global`,
      },
      (page, options) =>
        gcp.clients.compute.backendServices.list(
          { project: scope.project, maxResults: COMPUTE_LIST_PAGE_SIZE, ...page },
          options,
        ),
      signal,
    );
    // Only a NEG says whether it is serverless and what it serves. Rather than one get per
    // NEG, list the NEGs of every region the backends name: one call per region and page.
    const cache: NegCache = new Map();
    await prefetchNegs(gcp, items, scope.project, cache, signal);
    const lives = await Promise.all(
      items.map((bs) => withNegs(gcp, bs, projectOf(bs, scope.project), cache, signal)),
    );
    const running = items.length ? await runningGlobalOperations(gcp, scope.project, undefined, signal) : [];
    return lives.map((live) => observe(live, projectOf(live.backendService, scope.project), running));
  },

  async get(
    gcp: Gcp,
    ref: ResourceRef,
    signal?: AbortSignal,
  ): Promise<Observed<BackendServiceLive> | undefined> {
    // 404 notFound: "The resource '...' was not found".
    const got = await getOrUndefined(() =>
      gcp.call(
        {
          api: COMPUTE_API,
          method: "backendServices.get",
          write: false,
          location: "global",
          resource: backendServiceName(ref),
        },
        () =>
          gcp.clients.compute.backendServices.get(
            { project: ref.project, backendService: ref.id },
            gaxCallOptions(),
          ),
        signal,
      ),
    );
    if (!got) return undefined;
    const [bs] = got;
    const live = await withNegs(gcp, bs, ref.project, new Map(), signal);
    const link = bs.selfLink ?? computeUrl(backendServiceName(ref));
    const running = await runningGlobalOperations(gcp, ref.project, link, signal);
    return observe(live, ref.project, running);
  },

  desired(resource: Resource<"BackendService">): Record<string, unknown> {
    const s: BackendServiceSpec = resource.spec;
    const project = resource.metadata.project;
    const out: Record<string, unknown> = {};
    if (s.protocol !== undefined) out["protocol"] = s.protocol;
    if (s.loadBalancingScheme !== undefined) out["loadBalancingScheme"] = s.loadBalancingScheme;
    if (s.timeoutSec !== undefined) out["timeoutSec"] = s.timeoutSec;
    if (s.connectionDraining?.drainingTimeoutSec !== undefined) {
      out["connectionDraining"] = { drainingTimeoutSec: s.connectionDraining.drainingTimeoutSec };
    }
    if (s.healthChecks !== undefined) out["healthChecks"] = s.healthChecks.map((h) => h.name).sort();
    if (s.logConfig !== undefined) {
      const log: Record<string, unknown> = {};
      if (s.logConfig.enable !== undefined) log["enable"] = s.logConfig.enable;
      if (s.logConfig.sampleRate !== undefined) log["sampleRate"] = float32(s.logConfig.sampleRate);
      if (Object.keys(log).length > 0) out["logConfig"] = log;
    }
    if (s.outlierDetection !== undefined) {
      const od: Record<string, unknown> = {};
      for (const f of OUTLIER_FIELDS) if (s.outlierDetection[f] !== undefined) od[f] = s.outlierDetection[f];
      if (Object.keys(od).length > 0) out["outlierDetection"] = od;
    }
    if (s.backends !== undefined)
      out["backends"] = sortedBackends(s.backends.map((b) => desiredBackend(b, project)));
    return out;
  },

  normalize(live: BackendServiceLive): Record<string, unknown> {
    const bs = live.backendService;
    const project = projectOf(bs, "");
    const out: Record<string, unknown> = {
      protocol: bs.protocol || BACKEND_SERVICE_DEFAULTS.protocol,
      loadBalancingScheme: bs.loadBalancingScheme || BACKEND_SERVICE_DEFAULTS.loadBalancingScheme,
    };
    // Serverless NEG backends have no timeout of their own (Compute refuses one), so none
    // is filled in: a spec's timeoutSec then shows as a change, which `check` explains.
    if (bs.timeoutSec !== undefined && bs.timeoutSec !== null) out["timeoutSec"] = bs.timeoutSec;
    else if (!hasServerlessBackends(live)) out["timeoutSec"] = BACKEND_SERVICE_DEFAULTS.timeoutSec;
    out["connectionDraining"] = {
      drainingTimeoutSec:
        bs.connectionDraining?.drainingTimeoutSec ?? BACKEND_SERVICE_DEFAULTS.drainingTimeoutSec,
    };
    // Both lists are sets to Compute: one resource named twice (by a compute/v1 and a
    // compute/beta URL, say) is one entry.
    out["healthChecks"] = [
      ...new Set((bs.healthChecks ?? []).map((h) => relativeReference(h, project))),
    ].sort();
    out["logConfig"] = {
      enable: bs.logConfig?.enable ?? BACKEND_SERVICE_DEFAULTS.logEnable,
      sampleRate: float32(bs.logConfig?.sampleRate ?? BACKEND_SERVICE_DEFAULTS.logSampleRate),
    };
    const od: IOutlierDetection | null | undefined = bs.outlierDetection;
    if (od) {
      const shape: Record<string, unknown> = {};
      for (const f of OUTLIER_FIELDS) {
        const v = OUTLIER_DURATIONS.has(f)
          ? seconds(od[f] as IDuration | null | undefined)
          : (od[f] as number | null | undefined);
        shape[f] = v ?? OUTLIER_DETECTION_DEFAULTS[f];
      }
      out["outlierDetection"] = shape;
    }
    const backends = (bs.backends ?? []).map((b) => normalizeBackend(b, live, project));
    out["backends"] = sortedBackends(
      backends.filter((b, i) => backends.findIndex((x) => deepEqual(x, b)) === i),
    );
    return out;
  },

  disruptions(
    _changes: readonly FieldChange[],
    _observed: Observed<BackendServiceLive>,
    _resource: Resource<"BackendService">,
  ): Disruption[] {
    // Compute patches a backend service in place: the resource, its URL and the URL map
    // that routes to it stay, and nothing restarts or is recreated. What a change does to
    // traffic (a new timeout, a backend added or drained) is the change itself, which the
    // plan shows; none is a restart, a new revision or a replacement.
    return [];
  },

  async write(
    gcp: Gcp,
    observed: Observed<BackendServiceLive>,
    resource: Resource<"BackendService">,
    changes: readonly FieldChange[],
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    // backendServices.patch has no validate-only mode.
    if (options.validateOnly) return { poller: undefined, validated: false };
    const bs = observed.live.backendService;
    const patch: IBackendService = {};
    const log: Record<string, unknown> = {};
    const outlier: Record<string, unknown> = {};
    for (const c of changes) {
      const [head, sub] = c.path;
      switch (head) {
        case "protocol":
          patch.protocol = String(c.after);
          break;
        case "loadBalancingScheme":
          patch.loadBalancingScheme = String(c.after);
          break;
        case "timeoutSec":
          patch.timeoutSec = Number(c.after);
          break;
        case "connectionDraining": {
          const v = sub === undefined && isRecord(c.after) ? c.after["drainingTimeoutSec"] : c.after;
          patch.connectionDraining = { drainingTimeoutSec: Number(v) };
          break;
        }
        case "healthChecks":
          // The whole list: Compute replaces lists in a merge patch.
          patch.healthChecks = (Array.isArray(c.after) ? c.after : []).map((h) => computeUrl(String(h)));
          break;
        case "logConfig":
          if (typeof sub === "string") log[sub] = c.after;
          else if (isRecord(c.after)) Object.assign(log, c.after);
          break;
        case "outlierDetection":
          if (typeof sub === "string") outlier[sub] = c.after;
          else if (isRecord(c.after)) Object.assign(outlier, c.after);
          break;
        case "backends":
          patch.backends = await writeBackends(
            gcp,
            observed,
            resource,
            (Array.isArray(c.after) ? c.after : []) as Record<string, unknown>[],
            options.signal,
          );
          break;
        default:
          throw new BackendServiceWriteError(
            "UNWRITABLE_FIELD",
            `could not update ${observed.name}: ${c.field} is not a field capstan writes on backend services`,
          );
      }
    }
    if (Object.keys(log).length > 0) {
      // Nested messages go whole, built from live, so the fields capstan does not manage
      // (optionalMode, optionalFields) survive whether the server merges or replaces them.
      const next = { ...(bs.logConfig ?? {}) };
      for (const [k, v] of Object.entries(log)) {
        if (k !== "enable" && k !== "sampleRate") {
          throw new BackendServiceWriteError(
            "UNWRITABLE_FIELD",
            `could not update ${observed.name}: logConfig.${k} is not a field capstan writes`,
          );
        }
        if (k === "enable") next.enable = v === true;
        else next.sampleRate = Number(v);
      }
      patch.logConfig = next;
    }
    if (Object.keys(outlier).length > 0) {
      const next: IOutlierDetection = { ...(bs.outlierDetection ?? {}) };
      for (const [k, v] of Object.entries(outlier)) {
        const f = k as keyof OutlierDetectionSpec;
        if (!OUTLIER_FIELDS.includes(f)) {
          throw new BackendServiceWriteError(
            "UNWRITABLE_FIELD",
            `could not update ${observed.name}: outlierDetection.${k} is not a field capstan writes`,
          );
        }
        if (OUTLIER_DURATIONS.has(f)) (next as Record<string, unknown>)[f] = duration(Number(v));
        else (next as Record<string, unknown>)[f] = Number(v);
      }
      patch.outlierDetection = next;
    }
    // The precondition: a stale fingerprint is answered 412 conditionNotMet, which the
    // client surfaces with httpStatusCode 412 (gRPC code 9) and isConflict recognises.
    if (observed.version !== undefined) patch.fingerprint = observed.version;
    const project = observed.ref.project;
    const [lro] = await gcp.call(
      {
        api: COMPUTE_API,
        method: "backendServices.patch",
        write: true,
        location: "global",
        resource: observed.name,
      },
      () =>
        gcp.clients.compute.backendServices.patch(
          { project, backendService: observed.ref.id, backendServiceResource: patch },
          gaxCallOptions(),
        ),
      options.signal,
    );
    return { poller: startedPoller(gcp, project, lro) };
  },

  pending(gcp: Gcp, ref: ResourceRef, signal?: AbortSignal): Promise<OperationPoller | undefined> {
    // A write while another runs is refused with 400 resourceNotReady, which is no
    // conflict the executor would retry: it waits for the running operation instead.
    return pendingComputeOperation(gcp, ref.project, computeUrl(backendServiceName(ref)), signal);
  },

  async check(
    _gcp: Gcp,
    resource: Resource<"BackendService">,
    observed: Observed<BackendServiceLive>,
    _changes: readonly FieldChange[],
  ): Promise<CheckResult> {
    const problems: string[] = [];
    const s = resource.spec;
    // When the spec states its backends, the offline validator already judged these
    // fields against them; when it does not, only the live backends can tell.
    if (s.backends === undefined && hasServerlessBackends(observed.live)) {
      const violations = checkBackendServiceSettings(
        { timeoutSec: s.timeoutSec, healthChecks: s.healthChecks?.map((h) => h.name) },
        { serverless: true },
      );
      for (const v of violations) {
        const why =
          v.field === "timeoutSec"
            ? "the platform fixes the load balancer's timeout for Cloud Run, and the service's own request timeout (CloudRunService spec.template.timeout) applies instead; remove timeoutSec"
            : "the load balancer does not health-check serverless backends; use the CloudRunService's startupProbe and livenessProbe instead, and remove healthChecks";
        problems.push(
          `spec.${v.field}: not allowed: the live backends of ${observed.name} are serverless NEGs: ${why}. GCP says: ${v.message}`,
        );
      }
    }
    return { problems, notes: [] };
  },
} satisfies Reconciler<"BackendService", BackendServiceLive>;
