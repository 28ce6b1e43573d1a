import { describe, expect, it } from "vitest";
import {
  acceptedShare,
  admittedShare,
  type ConnectorSettings,
  cacheHitRatio,
  connectorCapacityMbps,
  establishmentSeconds,
  evaluate,
  instancesFor,
  type ModelInput,
  RHO_CAP,
  type ServiceSettings,
  serviceTimeMs,
  slowdown,
  sqlSettingsOf,
  timedOutShare,
  type Workload,
} from "./model.ts";

/** The staging workload of fixtures/staging-degraded.yaml. */
const STAGING: Workload = {
  appMs: 300,
  cpuBoundShare: 0.5,
  dbQueryMs: 100,
  dbWorkingSetMiB: 1536,
  sentKiB: 12,
  receivedKiB: 72,
  internetKiB: 0,
  handshakeSeconds: 0.8,
  backendSeconds: 1.4,
};

const DEGRADED: ServiceSettings = {
  minInstances: 0,
  maxInstances: 25,
  concurrency: 10,
  cpu: 1,
  requestTimeoutSeconds: 300,
  poolSize: 5,
  connectTimeoutSeconds: undefined,
  egress: "PRIVATE_RANGES_ONLY",
};

const CONNECTOR: ConnectorSettings = { machineType: "e2-micro", minInstances: 2, maxInstances: 3 };

function model(
  overrides: {
    settings?: Partial<ServiceSettings>;
    connector?: Partial<ConnectorSettings>;
    flags?: Record<string, string>;
    serving?: boolean;
    rps?: number;
    workload?: Partial<Workload>;
  } = {},
) {
  const input: ModelInput = {
    services: [
      {
        key: "backend",
        settings: { ...DEGRADED, ...overrides.settings },
        workload: { ...STAGING, ...overrides.workload },
        rps: overrides.rps ?? 400,
        sql: "db",
        connector: "c",
      },
    ],
    sql: { db: sqlSettingsOf("db-custom-1-3840", overrides.flags ?? {}, overrides.serving ?? true, 10) },
    connectors: { c: { ...CONNECTOR, ...overrides.connector } },
  };
  const out = evaluate(input);
  return { service: out.services[0]!, sql: out.sql[0]!, connector: out.connectors[0]!, out };
}

describe("load model formulas", () => {
  it("reproduces the staging baseline from the degraded settings under the burst", () => {
    const { service, connector } = model();
    expect(service.instances).toBe(25);
    expect(connector.utilization).toBeGreaterThanOrEqual(0.85);
    // (100 max_connections − 10 held by others) / (25 instances × 5) = 90 / 125.
    expect(service.connectionSuccess).toBeCloseTo(0.72, 5);
    expect(service.establishmentSeconds).toBeGreaterThanOrEqual(75);
    expect(service.failedRps).toBeGreaterThan(0);
  });

  it("reaches the targets with the remediated settings", () => {
    const { service, connector } = model({
      settings: {
        minInstances: 1,
        maxInstances: 17,
        concurrency: 16,
        cpu: 2,
        requestTimeoutSeconds: 60,
        connectTimeoutSeconds: 30,
      },
      connector: { maxInstances: 6 },
      flags: { max_connections: "120", shared_buffers: "196608" },
    });
    expect(service.connectionSuccess).toBeGreaterThanOrEqual(0.95);
    expect(service.establishmentSeconds).toBeLessThanOrEqual(45);
    expect(connector.utilization).toBeLessThanOrEqual(0.7);
    expect(service.poolUtilization).toBeLessThanOrEqual(0.8);
  });

  it("lowers connector utilisation as the connector gets more instances", () => {
    const utilisation = [3, 4, 6, 10].map(
      (n) => model({ connector: { maxInstances: n } }).connector.utilization,
    );
    for (let i = 1; i < utilisation.length; i++) expect(utilisation[i]).toBeLessThan(utilisation[i - 1]!);
    expect(model({ connector: { machineType: "e2-standard-4" } }).connector.utilization).toBeLessThan(
      utilisation[0]! / 10,
    );
  });

  it("fails the connections that go beyond max_connections, and none below it", () => {
    expect(admittedShare(125, 90, true)).toBeCloseTo(90 / 125);
    expect(admittedShare(80, 90, true)).toBe(1);
    const below = model({ settings: { maxInstances: 18 } }).service; // 90 connections, 90 slots
    const above = model({ settings: { maxInstances: 19 } }).service; // 95 connections
    expect(below.connectionSuccess).toBe(1);
    expect(above.connectionSuccess).toBeCloseTo(90 / 95);
    expect(model({ flags: { max_connections: "140" } }).service.connectionSuccess).toBe(1);
  });

  it("fails every connection while the database restarts", () => {
    const { service, sql } = model({ serving: false, settings: { connectTimeoutSeconds: 30 } });
    expect(service.connectionSuccess).toBe(0);
    expect(service.okRps).toBe(0);
    expect(sql.backends).toBe(0);
    // Every attempt waits until the app's connect timeout gives up.
    expect(service.establishmentSeconds).toBe(30);
  });

  it("grows establishment time as the database or the connector fills, bounded by the cap", () => {
    const base = establishmentSeconds(STAGING, 0, 0, true, undefined);
    expect(base).toBeCloseTo(STAGING.handshakeSeconds + STAGING.backendSeconds);
    expect(establishmentSeconds(STAGING, 0.5, 0, true, undefined)).toBeGreaterThan(base);
    expect(establishmentSeconds(STAGING, 0, 0.9, true, undefined)).toBeGreaterThan(
      establishmentSeconds(STAGING, 0, 0.5, true, undefined),
    );
    expect(slowdown(5)).toBeCloseTo(1 / (1 - RHO_CAP));
    // A connect timeout bounds the wait and fails the slow attempts instead.
    expect(establishmentSeconds(STAGING, 0.9, 1.4, true, 30)).toBe(30);
    expect(timedOutShare(80, 30)).toBeCloseTo(Math.exp(-30 / 80));
    expect(timedOutShare(80, undefined)).toBe(0);
  });

  it("scales Cloud Run instances with load and concurrency, within min and max", () => {
    expect(instancesFor(DEGRADED, 60)).toBe(10); // ceil(60 / (10 × 0.6))
    expect(instancesFor({ ...DEGRADED, concurrency: 20 }, 60)).toBe(5);
    expect(instancesFor(DEGRADED, 1000)).toBe(25);
    expect(instancesFor({ ...DEGRADED, minInstances: 3 }, 0)).toBe(3);
    expect(instancesFor({ ...DEGRADED, manualInstances: 7 }, 1000)).toBe(7);
    expect(acceptedShare(10, 10, 50)).toBe(1);
    expect(acceptedShare(10, 10, 200)).toBe(0.5);
  });

  it("refuses requests with 429 once every instance is at its concurrency", () => {
    const { service } = model({ settings: { maxInstances: 5 } });
    expect(service.rejectedRps).toBeGreaterThan(0);
    expect(service.rejectedRps + service.okRps + service.failedRps).toBeCloseTo(400);
  });

  it("speeds requests up with more vCPUs and a larger shared_buffers", () => {
    expect(serviceTimeMs(STAGING, 2, 1)).toBeLessThan(serviceTimeMs(STAGING, 1, 1));
    expect(cacheHitRatio(1267, 1536)).toBeLessThan(cacheHitRatio(1536, 1536));
    const small = model().service.serviceTimeMs;
    const large = model({ flags: { shared_buffers: "196608" } }).service.serviceTimeMs;
    expect(large).toBeLessThan(small);
  });

  it("reads Cloud SQL's defaults when the flags are not set", () => {
    const d = sqlSettingsOf("db-custom-1-3840", {}, true, 0);
    expect(d.maxConnections).toBe(100);
    expect(d.sharedBuffersMiB).toBeCloseTo(3840 * 0.33);
    const set = sqlSettingsOf(
      "db-custom-1-3840",
      { max_connections: "120", shared_buffers: "196608" },
      true,
      0,
    );
    expect(set.maxConnections).toBe(120);
    expect(set.sharedBuffersMiB).toBe(1536);
  });

  it("routes internet traffic through the connector only with egress ALL_TRAFFIC", () => {
    const workload = { internetKiB: 100 };
    const privateOnly = model({ workload }).connector.demandMbps;
    const all = model({ workload, settings: { egress: "ALL_TRAFFIC" } }).connector.demandMbps;
    expect(all).toBeGreaterThan(privateOnly);
    expect(connectorCapacityMbps(CONNECTOR)).toBe(300);
  });

  it("drops the traffic a saturated connector cannot carry, and the connections with it", () => {
    const { connector, service } = model({
      rps: 600,
      settings: { maxInstances: 100 },
      flags: { max_connections: "1000" },
    });
    expect(connector.rho).toBeGreaterThan(1);
    expect(connector.utilization).toBe(1);
    expect(service.connectionSuccess).toBeCloseTo(1 / connector.rho);
  });

  it("puts failures in the p99 latency once they pass 1% of requests", () => {
    const degraded = model().service;
    expect(degraded.p99LatencyMs).toBeGreaterThanOrEqual(degraded.failedLatencyMs);
    const quiet = model({ rps: 120 }).service;
    expect(quiet.failedRps).toBe(0);
    expect(quiet.p99LatencyMs).toBeLessThan(5 * quiet.serviceTimeMs);
  });
});
