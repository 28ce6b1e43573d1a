// What the benches share: a fleet of resources live exactly as specified, and the
// simulator serving it in a process of its own (so its work is not counted as capstan's).
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

/**
 * timedPass runs one pass of a controller and measures its CPU (user + system) and wall
 * time, in ms; a pass that does not converge (the fleet is as specified) is an error.
 */
export async function timedPass(
  controller: { pass(): Promise<{ outcome: string; message: string }> },
  label: string,
): Promise<{ cpuMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await controller.pass();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (summary.outcome !== "converged") throw new Error(`${label}: ${summary.outcome}: ${summary.message}`);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs };
}

/** PerScope is how many resources of each kind one project and region holds. */
export interface PerScope {
  readonly run: number;
  readonly sql: number;
  readonly vpc: number;
  readonly bs: number;
}

/** UNLIMITED_APIS lifts every per-minute quota: the benches measure capstan, not GCP's quotas. */
export const UNLIMITED_APIS = Object.fromEntries(
  ["run", "sqladmin", "vpcaccess", "compute", "secretmanager", "monitoring"].map((a) => [
    `${a}.googleapis.com`,
    { readPerMinute: 1e9, writePerMinute: 1e9 },
  ]),
);

/**
 * fleet makes `perScope` resources in every project and region, live exactly as
 * specified: the simulator's fixture and the spec files (one per project and region).
 */
export function fleet(options: {
  readonly projects: readonly string[];
  readonly regions: readonly string[];
  readonly perScope: PerScope;
}) {
  const { projects, regions, perScope } = options;
  const run: object[] = [];
  const sql: object[] = [];
  const connectors: object[] = [];
  const negs: object[] = [];
  const backendServices: object[] = [];
  const secrets: object[] = [];
  const files: Record<string, string[]> = {};
  const doc = (
    file: string,
    kind: string,
    name: string,
    project: string,
    region: string | undefined,
    spec: string,
  ) => {
    files[file] ??= [];
    files[file].push(
      `apiVersion: capstan.dev/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  project: ${project}\n${
        region ? `  region: ${region}\n` : ""
      }spec:\n${spec}`,
    );
  };
  for (const project of projects) {
    secrets.push({ name: `projects/${project}/secrets/db-password`, versions: [{ state: "ENABLED" }] });
    for (const region of regions) {
      const loc = `projects/${project}/locations/${region}`;
      const file = `${project}-${region}.yaml`;
      for (let i = 0; i < perScope.vpc; i++) {
        const name = `vpc-${region}-${i}`;
        connectors.push({
          name: `${loc}/connectors/${name}`,
          network: "default",
          ipCidrRange: `10.${i}.0.0/28`,
          machineType: "e2-micro",
          minInstances: 2,
          maxInstances: 6,
        });
        doc(
          file,
          "VpcConnector",
          name,
          project,
          region,
          "  machineType: e2-micro\n  minInstances: 2\n  maxInstances: 6\n",
        );
      }
      for (let i = 0; i < perScope.sql; i++) {
        const name = `db-${region}-${i}`;
        sql.push({
          project,
          name,
          region,
          databaseVersion: "POSTGRES_15",
          settings: {
            tier: "db-custom-2-7680",
            databaseFlags: [
              { name: "max_connections", value: "200" },
              { name: "work_mem", value: "8192" },
            ],
          },
        });
        doc(
          file,
          "SqlInstance",
          name,
          project,
          region,
          "  tier: db-custom-2-7680\n  databaseFlags:\n    max_connections: 200\n    work_mem: 8192\n",
        );
      }
      for (let i = 0; i < perScope.run; i++) {
        const name = `svc-${region}-${i}`;
        run.push({
          name: `${loc}/services/${name}`,
          template: {
            maxInstanceRequestConcurrency: 80,
            scaling: { maxInstanceCount: 20 },
            containers: [
              {
                image: `europe-docker.pkg.dev/${project}/apps/${name}:1`,
                resources: { limits: { cpu: "1", memory: "512Mi" } },
                env: [
                  { name: "DB_POOL_SIZE", value: "5" },
                  {
                    name: "DB_PASSWORD",
                    valueSource: { secretKeyRef: { secret: "db-password", version: "latest" } },
                  },
                ],
              },
            ],
          },
        });
        doc(
          file,
          "CloudRunService",
          name,
          project,
          region,
          "  template:\n    scaling:\n      maxInstances: 20\n    maxConcurrency: 80\n    env:\n      DB_POOL_SIZE: 5\n      DB_PASSWORD:\n        secret: { name: db-password, version: latest }\n",
        );
      }
      for (let i = 0; i < perScope.bs; i++) {
        const name = `bs-${region}-${i}`;
        const svc = `svc-${region}-${i}`;
        negs.push({ project, name: `neg-${svc}`, region, cloudRun: { service: svc } });
        backendServices.push({
          project,
          name,
          loadBalancingScheme: "EXTERNAL_MANAGED",
          protocol: "HTTPS",
          backends: [{ group: `regions/${region}/networkEndpointGroups/neg-${svc}` }],
          logConfig: { enable: true, sampleRate: 0.5 },
        });
        doc(
          file,
          "BackendService",
          name,
          project,
          undefined,
          `  logConfig:\n    enable: true\n    sampleRate: 0.5\n  backends:\n    - serverlessNeg:\n        service: projects/${project}/locations/${region}/services/${svc}\n        region: ${region}\n`,
        );
      }
    }
  }
  const fixture = {
    // The bench measures capstan, not GCP's per-minute quotas: both sides lift them.
    quotas: UNLIMITED_APIS,
    run: { services: run },
    sql: { instances: sql },
    vpcaccess: { connectors },
    secretmanager: { secrets },
    compute: { networkEndpointGroups: negs, backendServices },
  };
  const count = run.length + sql.length + connectors.length + backendServices.length;
  return { fixture, files, count };
}

/** startSimProcess serves the fixture from `capstan sim` in a child process; resolves to its endpoint. */
export async function startSimProcess(
  fixtureFile: string,
  args: readonly string[] = [],
): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [join(ROOT, "src/cli/capstan.ts"), "sim", "--port", "0", "-f", fixtureFile, ...args],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const m = /serving simulated GCP at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`capstan sim exited with ${code}`)));
  });
  return { endpoint, child };
}
