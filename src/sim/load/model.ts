/**
 * The load model: every formula that turns a request rate and the live settings of Cloud
 * Run, Cloud SQL and a Serverless VPC Access connector into the figures that capstan's
 * gates read. Pure functions of their inputs, in this one file, so the arithmetic can be
 * read (and argued with) in one place; docs/load-model.md explains it with a worked
 * example. src/sim/load/index.ts feeds it from the simulator's live state and serves the
 * results through the simulated Cloud Monitoring API.
 *
 * The model is deliberately small. It is right in direction (more connector instances
 * lower utilisation; connections beyond max_connections fail; a restart fails every
 * connection; a shorter connect timeout bounds the wait but fails the slow attempts), and
 * its workload constants are calibrated so the degraded staging fixture reproduces the
 * figures the team measured. It is not a performance predictor.
 */

import { defaultMaxConnections, sqlTierMemoryMiB } from "../../gcp/catalog/sql.ts";
import { CONNECTOR_MACHINE_TYPES, isConnectorMachineType } from "../../gcp/catalog/vpcaccess.ts";

// ---------------------------------------------------------------------------------------
// Platform constants (documented by GCP or by the libraries an app uses)

/**
 * CONCURRENCY_TARGET is the share of `maxInstanceRequestConcurrency` Cloud Run's
 * autoscaler aims for: "By default, Cloud Run optimizes for high performance with a
 * utilization target of 60% for both CPU and concurrency"
 * (https://cloud.google.com/run/docs/configuring/scaling-controls).
 */
export const CONCURRENCY_TARGET = 0.6;

/**
 * SHARED_BUFFERS_DEFAULT_FRACTION is Cloud SQL's `shared_buffers` when the flag is not
 * set: "the default is 33% of the instance's memory"
 * (https://cloud.google.com/sql/docs/postgres/manage-memory-usage-best-practices).
 */
export const SHARED_BUFFERS_DEFAULT_FRACTION = 0.33;

/** SHARED_BUFFERS_UNIT_BYTES is the unit PostgreSQL reads a bare `shared_buffers` number in (8 kB pages). */
export const SHARED_BUFFERS_UNIT_BYTES = 8192;

/**
 * DEFAULT_POOL_SIZE is the pool size an app has when it does not set one: node-postgres'
 * `Pool` defaults `max` to 10 (https://node-postgres.com/apis/pool).
 */
export const DEFAULT_POOL_SIZE = 10;

// ---------------------------------------------------------------------------------------
// Model constants (the simulator's own choices, explained where they are used)

/**
 * RHO_CAP bounds a utilisation before it enters a queueing formula. At ρ ≥ 1 a real
 * queue grows without limit; the app's pool gives up and retries instead, so the model
 * caps the slowdown at 1 / (1 − 0.98) = 50 times the base time.
 */
export const RHO_CAP = 0.98;

/**
 * CACHE_MISS_PENALTY is how much slower a query is when its pages are not in
 * shared_buffers: a miss reads from the persistent disk, taken as 5 times a hit, so the
 * query time grows by 4 × the miss ratio.
 */
export const CACHE_MISS_PENALTY = 4;

/**
 * LATENCY_FLOOR_SHARE shapes the latency of successful requests: a fixed part (this share
 * of the mean) plus an exponential part. p99 is then mean × (0.5 + 0.5 × ln 100) ≈ 2.8 ×
 * the mean: a long tail, as request latencies have.
 */
export const LATENCY_FLOOR_SHARE = 0.5;

/** LATENCY_QUANTILES is how many quantiles stand for a latency distribution (cheap, and enough for p50/p95/p99). */
export const LATENCY_QUANTILES = 50;

// ---------------------------------------------------------------------------------------
// Inputs

/** Workload describes what one request of a service does; it is the fixture's, not GCP's. */
export interface Workload {
  /** Application time of one request at 1 vCPU, without database time, ms. */
  readonly appMs: number;
  /** Share of `appMs` that is CPU-bound and so shrinks with more vCPUs (0..1). */
  readonly cpuBoundShare: number;
  /** Database time of one request when every page it reads is cached, ms. */
  readonly dbQueryMs: number;
  /** Size of the data the requests read, MiB: shared_buffers below it means cache misses. */
  readonly dbWorkingSetMiB: number;
  /** KiB one request sends into the VPC through the connector (queries, calls to private services). */
  readonly sentKiB: number;
  /** KiB one request receives back through the connector (result sets, responses). */
  readonly receivedKiB: number;
  /** KiB one request exchanges with the internet, which crosses the connector only with egress ALL_TRAFFIC. */
  readonly internetKiB: number;
  /**
   * Base time to get a usable connection across an idle connector (TCP + TLS + auth as the
   * app's driver does it, retries included), seconds.
   */
  readonly handshakeSeconds: number;
  /** Base time to get a database backend when connection slots are free, seconds. */
  readonly backendSeconds: number;
}

/** ServiceSettings is what the model reads of the Cloud Run revision that serves a service. */
export interface ServiceSettings {
  /** Lower bound of instances (service and revision minimums). */
  readonly minInstances: number;
  /** Upper bound of instances (service and revision maximums). */
  readonly maxInstances: number;
  /** Set for manual scaling: the instance count, whatever the load. */
  readonly manualInstances?: number | undefined;
  /** maxInstanceRequestConcurrency. */
  readonly concurrency: number;
  /** vCPUs of the serving container. */
  readonly cpu: number;
  /** Request timeout, seconds. */
  readonly requestTimeoutSeconds: number;
  /** Connections each instance's pool opens at most (from the pool-size env var). */
  readonly poolSize: number;
  /** The app's connect timeout (from its env var), seconds; undefined waits forever. */
  readonly connectTimeoutSeconds: number | undefined;
  /** VPC egress setting: what crosses the connector. */
  readonly egress: "ALL_TRAFFIC" | "PRIVATE_RANGES_ONLY";
}

/** SqlSettings is what the model reads of a Cloud SQL instance. */
export interface SqlSettings {
  /** The max_connections flag, else the tier's default. */
  readonly maxConnections: number;
  /** shared_buffers in MiB (the flag, else 33% of the tier's memory). */
  readonly sharedBuffersMiB: number;
  /** False while the instance restarts: every connection attempt fails. */
  readonly serving: boolean;
  /** Connections held by others (admin tools, migrations, monitoring), taken before the services'. */
  readonly otherConnections: number;
}

/** ConnectorSettings is what the model reads of a Serverless VPC Access connector. */
export interface ConnectorSettings {
  readonly machineType: string;
  readonly minInstances: number;
  readonly maxInstances: number;
}

/** ServiceInput is one service of a model evaluation: its settings, workload and current traffic. */
export interface ServiceInput {
  /** A key of the caller's choosing (the service's full name). */
  readonly key: string;
  readonly settings: ServiceSettings;
  readonly workload: Workload;
  /** Offered requests per second. */
  readonly rps: number;
  /** Key of the SQL instance it connects to, if any (in {@link ModelInput.sql}). */
  readonly sql?: string | undefined;
  /** Key of the connector its egress crosses, if any (in {@link ModelInput.connectors}). */
  readonly connector?: string | undefined;
}

/** ModelInput is everything one evaluation reads. */
export interface ModelInput {
  readonly services: readonly ServiceInput[];
  readonly sql: Readonly<Record<string, SqlSettings>>;
  readonly connectors: Readonly<Record<string, ConnectorSettings>>;
}

// ---------------------------------------------------------------------------------------
// Outputs

/** ServiceOutput is what the model derives for one service. */
export interface ServiceOutput {
  readonly key: string;
  readonly rps: number;
  /** Mean time one accepted request takes when it gets its connection, ms. */
  readonly serviceTimeMs: number;
  /** Requests in flight (Little's law). */
  readonly inFlight: number;
  readonly instances: number;
  /** Requests per second refused with 429 for want of an instance. */
  readonly rejectedRps: number;
  /** Requests per second that ran and succeeded / failed for want of a database connection. */
  readonly okRps: number;
  readonly failedRps: number;
  /** Connections the service's pools ask for (instances × pool size). */
  readonly connectionsRequested: number;
  /** Connections the database admitted. */
  readonly connectionsServed: number;
  /** Share of connection attempts that succeed (0..1). */
  readonly connectionSuccess: number;
  /** Mean connection establishment time, seconds (no attempt waits past the connect timeout). */
  readonly establishmentSeconds: number;
  /** Connections in use on its database over max_connections (0..1), or undefined without a database. */
  readonly poolUtilization: number | undefined;
  /** Latency of successful requests, ms: quantiles for a distribution, and p99. */
  readonly okLatencyMs: readonly number[];
  /** Latency of requests failed by the database connection, ms. */
  readonly failedLatencyMs: number;
  /** p99 latency over every request that ran, ms. */
  readonly p99LatencyMs: number;
  /** Connector traffic this service offers, Mbps. */
  readonly connectorMbps: number;
}

/** SqlOutput is what the model derives for one Cloud SQL instance. */
export interface SqlOutput {
  readonly key: string;
  readonly requested: number;
  /** Connection slots left for the services: max_connections − other connections. */
  readonly available: number;
  /** requested / available: above 1, some attempts are refused. */
  readonly rho: number;
  /** Share of the services' attempts admitted (0 while restarting). */
  readonly admitted: number;
  /** Backends (connections) open: admitted service connections plus others; 0 while restarting. */
  readonly backends: number;
  /** backends / max_connections. */
  readonly utilization: number;
}

/** ConnectorOutput is what the model derives for one connector. */
export interface ConnectorOutput {
  readonly key: string;
  /** Offered traffic, Mbps. */
  readonly demandMbps: number;
  /** What its instances can carry, Mbps. */
  readonly capacityMbps: number;
  /** Instances running (scaled out to the maximum under the burst; connectors do not scale in). */
  readonly instances: number;
  /** demand / capacity, unbounded. */
  readonly rho: number;
  /** CPU utilisation of each instance (0..1). */
  readonly utilization: number;
  /** Share of the offered traffic carried (0..1). */
  readonly delivered: number;
  /** Bytes carried per second toward the VPC and back. */
  readonly sentBytesPerSecond: number;
  readonly receivedBytesPerSecond: number;
}

/** ModelOutput is one evaluation. */
export interface ModelOutput {
  readonly services: readonly ServiceOutput[];
  readonly sql: readonly SqlOutput[];
  readonly connectors: readonly ConnectorOutput[];
}

// ---------------------------------------------------------------------------------------
// Formulas

/**
 * cacheHitRatio is the share of a request's pages found in shared_buffers: the buffer's
 * size over the working set, at most 1. Crude (PostgreSQL also has the OS page cache),
 * but it moves the right way when shared_buffers is tuned.
 */
export function cacheHitRatio(sharedBuffersMiB: number, workingSetMiB: number): number {
  if (workingSetMiB <= 0) return 1;
  return Math.min(1, Math.max(0, sharedBuffersMiB / workingSetMiB));
}

/**
 * serviceTimeMs is the mean time of one request that gets its connection:
 * appMs × (cpuBoundShare / cpu + (1 − cpuBoundShare)) + dbQueryMs × (1 + CACHE_MISS_PENALTY × (1 − hit)).
 * Only the CPU-bound share shrinks with more vCPUs (Amdahl), and only the database part
 * depends on the cache.
 */
export function serviceTimeMs(w: Workload, cpu: number, hit: number): number {
  const app = w.appMs * (w.cpuBoundShare / Math.max(cpu, 0.001) + (1 - w.cpuBoundShare));
  const db = w.dbQueryMs * (1 + CACHE_MISS_PENALTY * (1 - hit));
  return app + db;
}

/**
 * instancesFor is the instance count Cloud Run's autoscaler settles on:
 * clamp(ceil(inFlight / (concurrency × CONCURRENCY_TARGET)), min, max), where inFlight is
 * rps × service time (Little's law). Manual scaling fixes the count.
 */
export function instancesFor(s: ServiceSettings, inFlight: number): number {
  if (s.manualInstances !== undefined) return s.manualInstances;
  const wanted = inFlight > 0 ? Math.ceil(inFlight / (Math.max(1, s.concurrency) * CONCURRENCY_TARGET)) : 0;
  return Math.min(s.maxInstances, Math.max(s.minInstances, wanted));
}

/**
 * acceptedShare is the share of requests that find an instance: its capacity is
 * instances × concurrency requests in flight; beyond it Cloud Run answers 429
 * ("The request was aborted because there was no available instance",
 * https://cloud.google.com/run/docs/troubleshooting).
 */
export function acceptedShare(instances: number, concurrency: number, inFlight: number): number {
  const capacity = instances * concurrency;
  return inFlight <= capacity ? 1 : capacity / inFlight;
}

/**
 * connectorMbps is the traffic one service pushes through its connector: accepted rps ×
 * KiB per request × 8 × 1024 / 10^6, counting both directions, plus internet traffic when
 * egress is ALL_TRAFFIC (with PRIVATE_RANGES_ONLY it leaves Cloud Run directly).
 */
export function connectorMbps(w: Workload, egress: ServiceSettings["egress"], rps: number): number {
  const kib = w.sentKiB + w.receivedKiB + (egress === "ALL_TRAFFIC" ? w.internetKiB : 0);
  return (rps * kib * 8 * 1024) / 1e6;
}

/**
 * connectorCapacityMbps is what a connector carries once scaled out to its maximum:
 * maxInstances × the machine type's documented throughput per instance (src/gcp/catalog/vpcaccess.ts).
 * Under a burst a connector adds instances up to the maximum, and "Connectors don't scale
 * in" (https://cloud.google.com/vpc/docs/serverless-vpc-access), so the maximum is what
 * serves the burst.
 */
export function connectorCapacityMbps(c: ConnectorSettings): number {
  const perInstance = isConnectorMachineType(c.machineType)
    ? CONNECTOR_MACHINE_TYPES[c.machineType].mbpsPerInstance
    : 0;
  return perInstance * c.maxInstances;
}

/**
 * admittedShare is the share of the services' connection attempts PostgreSQL accepts:
 * slots are max_connections − other connections; beyond them PostgreSQL refuses ("sorry,
 * too many clients already"). A restarting instance admits none.
 */
export function admittedShare(requested: number, available: number, serving: boolean): number {
  if (!serving) return 0;
  if (requested <= 0) return 1;
  return Math.min(1, Math.max(0, available) / requested);
}

/** slowdown is the M/M/1 sojourn factor 1 / (1 − ρ), with ρ capped at {@link RHO_CAP}. */
export function slowdown(rho: number): number {
  return 1 / (1 - Math.min(Math.max(rho, 0), RHO_CAP));
}

/**
 * establishmentSeconds is the mean time to get a connection. An attempt crosses the
 * connector, then waits for a backend slot: two queues in series, whose sojourn times add
 * (a tandem of M/M/1 queues), handshake / (1 − ρ_connector) + backend / (1 − ρ_db).
 * While the database restarts an attempt waits as long as it can: the connect timeout,
 * or the longest (capped) wait without one. No attempt waits past the connect timeout.
 */
export function establishmentSeconds(
  w: Workload,
  rhoConnector: number,
  rhoDb: number,
  serving: boolean,
  connectTimeoutSeconds: number | undefined,
): number {
  const wait = serving
    ? w.handshakeSeconds * slowdown(rhoConnector) + w.backendSeconds * slowdown(rhoDb)
    : w.handshakeSeconds * slowdown(rhoConnector) + w.backendSeconds * slowdown(Number.POSITIVE_INFINITY);
  if (connectTimeoutSeconds === undefined) return wait;
  return serving ? Math.min(wait, connectTimeoutSeconds) : connectTimeoutSeconds;
}

/**
 * timedOutShare is the share of attempts still waiting when the connect timeout fires,
 * taking establishment times as exponential with the mean from {@link establishmentSeconds}:
 * e^(−timeout / mean). No timeout, no such failures.
 */
export function timedOutShare(meanSeconds: number, connectTimeoutSeconds: number | undefined): number {
  if (connectTimeoutSeconds === undefined || meanSeconds <= 0) return 0;
  return Math.exp(-connectTimeoutSeconds / meanSeconds);
}

/**
 * latencyQuantilesMs spreads a mean latency into {@link LATENCY_QUANTILES} quantiles: a
 * fixed floor (LATENCY_FLOOR_SHARE of the mean) plus an exponential part, q-quantile
 * mean × (floor − (1 − floor) × ln(1 − q)), capped at the request timeout.
 */
export function latencyQuantilesMs(meanMs: number, timeoutMs: number): number[] {
  const out: number[] = [];
  for (let k = 1; k <= LATENCY_QUANTILES; k++) {
    const q = (k - 0.5) / LATENCY_QUANTILES;
    const x = meanMs * (LATENCY_FLOOR_SHARE - (1 - LATENCY_FLOOR_SHARE) * Math.log(1 - q));
    out.push(Math.min(x, timeoutMs));
  }
  return out;
}

/** okQuantileMs is the q-quantile of successful requests' latency (the shape of {@link latencyQuantilesMs}). */
export function okQuantileMs(meanMs: number, q: number, timeoutMs: number): number {
  const x = meanMs * (LATENCY_FLOOR_SHARE - (1 - LATENCY_FLOOR_SHARE) * Math.log(1 - Math.min(q, 0.9999)));
  return Math.min(x, timeoutMs);
}

/**
 * p99Of is the 99th percentile over every request that ran. Requests failed by their
 * connection are the slow ones (they wait for the attempt to give up), so when they are
 * more than 1% of requests p99 is theirs; otherwise it is the successful requests'
 * 0.99 / (1 − failed share) quantile.
 */
export function p99Of(
  okMeanMs: number,
  okRps: number,
  failedMs: number,
  failedRps: number,
  timeoutMs: number,
): number {
  const total = okRps + failedRps;
  if (total <= 0) return 0;
  const failedShare = failedRps / total;
  if (failedShare > 0.01) return Math.max(failedMs, okQuantileMs(okMeanMs, 0.99, timeoutMs));
  return okQuantileMs(okMeanMs, 0.99 / (1 - failedShare), timeoutMs);
}

// ---------------------------------------------------------------------------------------
// Settings derived from GCP's representation

/**
 * sqlSettingsOf derives max_connections and shared_buffers from a tier and its flags, as
 * Cloud SQL does when the flags are not set: max_connections by memory
 * (src/gcp/catalog/sql.ts), shared_buffers 33% of memory.
 */
export function sqlSettingsOf(
  tier: string,
  flags: Readonly<Record<string, string>>,
  serving: boolean,
  otherConnections: number,
): SqlSettings {
  const memoryMiB = sqlTierMemoryMiB(tier) ?? 3840;
  const maxFlag = Number(flags["max_connections"]);
  const bufFlag = Number(flags["shared_buffers"]);
  return {
    maxConnections:
      flags["max_connections"] !== undefined && Number.isFinite(maxFlag)
        ? maxFlag
        : (defaultMaxConnections(tier) ?? 100),
    sharedBuffersMiB:
      flags["shared_buffers"] !== undefined && Number.isFinite(bufFlag)
        ? (bufFlag * SHARED_BUFFERS_UNIT_BYTES) / 2 ** 20
        : memoryMiB * SHARED_BUFFERS_DEFAULT_FRACTION,
    serving,
    otherConnections,
  };
}

// ---------------------------------------------------------------------------------------
// Evaluation

/**
 * evaluate runs the model once: each service's instances and connection demand, then each
 * database's and connector's load from all services that use it, then each service's
 * connection success, establishment time and latency from those loads. No feedback from
 * slow connections back into the instance count: under the staging burst the instances
 * are already at their maximum, and a fixed point would hide the arithmetic.
 */
export function evaluate(input: ModelInput): ModelOutput {
  // 1. Per service: service time, instances, accepted traffic, connection demand.
  const pre = input.services.map((s) => {
    const sql = s.sql ? input.sql[s.sql] : undefined;
    const hit = cacheHitRatio(sql?.sharedBuffersMiB ?? Number.POSITIVE_INFINITY, s.workload.dbWorkingSetMiB);
    const timeMs = serviceTimeMs(s.workload, s.settings.cpu, hit);
    const inFlight = (s.rps * timeMs) / 1000;
    const instances = instancesFor(s.settings, inFlight);
    const accepted = acceptedShare(instances, s.settings.concurrency, inFlight);
    const requested = sql ? instances * s.settings.poolSize : 0;
    const mbps = s.connector ? connectorMbps(s.workload, s.settings.egress, s.rps * accepted) : 0;
    return { s, timeMs, inFlight, instances, accepted, requested, mbps };
  });

  // 2. Per database and connector: sum the demand of the services that use it.
  const sql: SqlOutput[] = Object.entries(input.sql).map(([key, d]) => {
    const requested = pre.filter((p) => p.s.sql === key).reduce((n, p) => n + p.requested, 0);
    const available = Math.max(0, d.maxConnections - d.otherConnections);
    const admitted = admittedShare(requested, available, d.serving);
    const backends = d.serving ? requested * admitted + Math.min(d.otherConnections, d.maxConnections) : 0;
    return {
      key,
      requested,
      available,
      rho: available > 0 ? requested / available : requested > 0 ? Number.POSITIVE_INFINITY : 0,
      admitted,
      backends,
      utilization: d.maxConnections > 0 ? backends / d.maxConnections : 0,
    };
  });
  const connectors: ConnectorOutput[] = Object.entries(input.connectors).map(([key, c]) => {
    const users = pre.filter((p) => p.s.connector === key);
    const demandMbps = users.reduce((n, p) => n + p.mbps, 0);
    const capacityMbps = connectorCapacityMbps(c);
    const rho = capacityMbps > 0 ? demandMbps / capacityMbps : demandMbps > 0 ? Number.POSITIVE_INFINITY : 0;
    const delivered = rho > 1 ? 1 / rho : 1;
    // Internet traffic (egress ALL_TRAFFIC) goes out and comes back: counted half each way.
    const bytes = (dir: "sentKiB" | "receivedKiB") =>
      users.reduce((n, p) => {
        const w = p.s.workload;
        const internet = p.s.settings.egress === "ALL_TRAFFIC" ? w.internetKiB / 2 : 0;
        return n + p.s.rps * p.accepted * (w[dir] + internet) * 1024;
      }, 0) * delivered;
    return {
      key,
      demandMbps,
      capacityMbps,
      instances: c.maxInstances,
      rho,
      utilization: Math.min(1, rho),
      delivered,
      sentBytesPerSecond: bytes("sentKiB"),
      receivedBytesPerSecond: bytes("receivedKiB"),
    };
  });

  // 3. Per service: connection success, establishment time, outcomes and latency.
  const services: ServiceOutput[] = pre.map((p) => {
    const { s } = p;
    const db = s.sql ? sql.find((d) => d.key === s.sql) : undefined;
    const dbIn = s.sql ? input.sql[s.sql] : undefined;
    const conn = s.connector ? connectors.find((c) => c.key === s.connector) : undefined;
    const serving = dbIn?.serving ?? true;
    const timeout = s.settings.connectTimeoutSeconds;
    let success = 1;
    let establishment = 0;
    if (db) {
      const mean = establishmentSeconds(s.workload, conn?.rho ?? 0, db.rho, serving, timeout);
      const waited = establishmentSeconds(s.workload, conn?.rho ?? 0, db.rho, serving, undefined);
      success = db.admitted * (conn?.delivered ?? 1) * (1 - timedOutShare(waited, timeout));
      establishment = mean;
    }
    const ran = s.rps * p.accepted;
    const okRps = ran * success;
    const failedRps = ran - okRps;
    const timeoutMs = s.settings.requestTimeoutSeconds * 1000;
    const ok = latencyQuantilesMs(p.timeMs, timeoutMs);
    // A request whose connection fails waits for the attempt to give up, or for its own timeout.
    const failedMs = Math.min(timeoutMs, establishment * 1000 + p.timeMs);
    return {
      key: s.key,
      rps: s.rps,
      serviceTimeMs: p.timeMs,
      inFlight: p.inFlight,
      instances: p.instances,
      rejectedRps: s.rps - ran,
      okRps,
      failedRps,
      connectionsRequested: p.requested,
      connectionsServed: db ? p.requested * db.admitted : 0,
      connectionSuccess: success,
      establishmentSeconds: establishment,
      poolUtilization: db?.utilization,
      okLatencyMs: ok,
      failedLatencyMs: failedMs,
      p99LatencyMs: p99Of(p.timeMs, okRps, failedMs, failedRps, timeoutMs),
      connectorMbps: p.mbps,
    };
  });
  return { services, sql, connectors };
}
