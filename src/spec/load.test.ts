import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpecs, parseSpecSet } from "./load.ts";
import type { AnyResource, Resource } from "./types.ts";
import { formatProblem } from "./validate.ts";

const CWD = "/repo";
const HEAD = "apiVersion: capstan.dev/v1alpha1\n";

function load(files: Record<string, string>, defaults: Record<string, string> = {}) {
  return parseSpecSet(
    Object.entries(files).map(([path, text]) => ({ path, text })),
    Object.entries(defaults).map(([path, text]) => ({
      path,
      text,
      dir: path.slice(0, path.lastIndexOf("/")),
    })),
    { cwd: CWD },
  );
}

function only<K extends AnyResource["kind"]>(resources: readonly AnyResource[], kind: K): Resource<K> {
  const found = resources.filter((r) => r.kind === kind);
  expect(found).toHaveLength(1);
  return found[0] as Resource<K>;
}

const SERVICE = `${HEAD}kind: CloudRunService
metadata:
  name: api
  project: acme-staging
  region: europe-west1
spec:
  template:
    maxConcurrency: 40
    resources:
      memory: 1Gi
    env:
      LOG_LEVEL: info
      DB_PASSWORD: {secret: {name: db-password, version: latest}}
      OLD_FLAG: null
`;

describe("loading specs", () => {
  it("keeps the file, line and column of every field so later stages can point at it", () => {
    const set = load({ "specs/api.yaml": SERVICE });
    expect(set.problems).toEqual([]);
    const api = only(set.resources, "CloudRunService");
    expect(api.file).toBe("specs/api.yaml");
    expect(api.source.at("/spec/template/resources/memory")).toEqual({
      file: "specs/api.yaml",
      line: 11,
      col: 15,
    });
    expect(api.source.keyAt("/spec/template/maxConcurrency")).toEqual({
      file: "specs/api.yaml",
      line: 9,
      col: 5,
    });
    // A path that was never written falls back to its nearest written ancestor.
    expect(api.source.at("/spec/template/timeout")).toEqual({ file: "specs/api.yaml", line: 9, col: 5 });
  });

  it("normalises units and the env map, keeping each entry's line", () => {
    const api = only(load({ "specs/api.yaml": SERVICE }).resources, "CloudRunService");
    expect(api.spec.template?.resources?.memory).toBe(2 ** 30);
    expect(api.spec.template?.env).toEqual([
      { name: "LOG_LEVEL", value: "info" },
      {
        name: "DB_PASSWORD",
        secret: { name: "projects/acme-staging/secrets/db-password", version: "latest" },
      },
      { name: "OLD_FLAG", unset: true },
    ]);
    expect(api.source.at("/spec/template/env/1").line).toBe(14);
  });

  it("leaves every unstated field undefined, so it is never diffed or written", () => {
    const api = only(load({ "specs/api.yaml": SERVICE }).resources, "CloudRunService");
    expect(Object.keys(api.spec)).toEqual(["template"]);
    expect(Object.keys(api.spec.template ?? {}).sort()).toEqual(["env", "maxConcurrency", "resources"]);
    expect(Object.keys(api.spec.template?.resources ?? {})).toEqual(["memory"]);
  });

  it("reads every document of a multi-document file and skips empty ones", () => {
    const text = `---\n# just a comment\n---\n${SERVICE}---\n${HEAD}kind: HealthCheck\nmetadata: {name: hc, project: acme-staging}\nspec: {checkIntervalSec: 10}\n---\n`;
    const set = load({ "specs/all.yaml": text });
    expect(set.problems).toEqual([]);
    expect(set.resources.map((r) => r.kind)).toEqual(["CloudRunService", "HealthCheck"]);
    expect(only(set.resources, "HealthCheck").source.at("/spec/checkIntervalSec").line).toBe(23);
  });

  it("takes project and region from the nearest capstan.yaml, the document's own metadata winning", () => {
    const doc = (name: string, meta = "") =>
      `${HEAD}kind: VpcConnector\nmetadata:\n  name: ${name}\n${meta}spec: {}\n`;
    const set = load(
      {
        "specs/a.yaml": doc("vpc-a"),
        "specs/us/b.yaml": doc("vpc-b"),
        "specs/us/c.yaml": doc("vpc-c", "  project: other-project\n"),
      },
      {
        "specs/capstan.yaml": "project: acme-staging\nregion: europe-west1\n",
        "specs/us/capstan.yaml": "# US specs\nregion: us-central1\n",
      },
    );
    expect(set.problems).toEqual([]);
    const got = Object.fromEntries(
      set.resources.map((r) => [r.metadata.name, [r.metadata.project, r.metadata.region]]),
    );
    expect(got).toEqual({
      "vpc-a": ["acme-staging", "europe-west1"],
      "vpc-b": ["acme-staging", "us-central1"],
      "vpc-c": ["other-project", "us-central1"],
    });
    const b = set.resources.find((r) => r.metadata.name === "vpc-b")!;
    expect(b.source.at("/metadata/region")).toEqual({ file: "specs/us/capstan.yaml", line: 2, col: 9 });
    expect(b.gcpName).toBe("projects/acme-staging/locations/us-central1/connectors/vpc-b");
  });

  it("refuses an unknown key in a capstan.yaml at its line", () => {
    const set = load({}, { "specs/capstan.yaml": "project: acme-staging\nzone: europe-west1-b\n" });
    expect(set.problems.map(formatProblem)).toEqual([
      "specs/capstan.yaml:2:1  -  zone: unknown field; valid fields: project, region",
    ]);
  });

  it("reports every problem of the set at once, sorted by file and line", () => {
    const set = load({
      "specs/b.yaml": `${HEAD}kind: HealthCheck\nmetadata: {name: hc, project: acme-staging}\nspec:\n  checkIntervalSec: 0\n  timeoutSec: 500\n`,
      "specs/a.yaml": `${HEAD}kind: VpcConnector\nmetadata: {name: vpc, project: acme-staging, region: europe-west1}\nspec: {minInstances: 1, maxInstances: 11}\n`,
    });
    expect(set.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message.split(":")[0]}`)).toEqual([
      "specs/a.yaml:4:22 spec.minInstances",
      "specs/a.yaml:4:39 spec.maxInstances",
      "specs/b.yaml:5:21 spec.checkIntervalSec",
      "specs/b.yaml:6:15 spec.timeoutSec",
    ]);
  });

  it("refuses two documents with one identity across files, naming both locations", () => {
    const hc = `${HEAD}kind: HealthCheck\nmetadata:\n  name: hc\n  project: acme-staging\nspec: {}\n`;
    const set = load({ "specs/a.yaml": hc, "specs/b.yaml": `# again\n${hc}` });
    expect(set.problems.map(formatProblem)).toEqual([
      "specs/b.yaml:5:9  HealthCheck/hc  metadata.name: duplicate HealthCheck projects/acme-staging/global/healthChecks/hc: also defined at specs/a.yaml:4:9",
    ]);
  });

  it("keeps the same name apart when the identity differs by kind, project or region", () => {
    const doc = (kind: string, project: string, region: string) =>
      `${HEAD}kind: ${kind}\nmetadata: {name: api, project: ${project}, region: ${region}}\nspec: {}\n`;
    const set = load({
      "specs/a.yaml": doc("CloudRunService", "acme-staging", "europe-west1"),
      "specs/b.yaml": doc("CloudRunService", "acme-staging", "us-central1"),
      "specs/c.yaml": doc("CloudRunService", "acme-prod", "europe-west1"),
      "specs/d.yaml": doc("VpcConnector", "acme-staging", "europe-west1"),
    });
    expect(set.problems).toEqual([]);
    expect(set.resources).toHaveLength(4);
  });

  it("resolves short references in the referring spec's scope and accepts full names of unmanaged resources", () => {
    const set = load({
      "specs/net.yaml": `${HEAD}kind: VpcConnector\nmetadata: {name: vpc-main, project: acme-staging, region: europe-west1}\nspec: {}\n`,
      "specs/db.yaml": `${HEAD}kind: SqlInstance\nmetadata: {name: main-db, project: acme-staging, region: europe-west1}\nspec: {}\n`,
      "specs/api.yaml": `${HEAD}kind: CloudRunService
metadata: {name: api, project: acme-staging, region: europe-west1}
spec:
  template:
    vpcAccess: {connector: vpc-main}
    cloudSqlInstances: [main-db, acme-data:europe-west1:reports]
`,
    });
    expect(set.problems).toEqual([]);
    const api = only(set.resources, "CloudRunService");
    expect(api.spec.template?.vpcAccess?.connector).toEqual({
      kind: "VpcConnector",
      text: "vpc-main",
      name: "projects/acme-staging/locations/europe-west1/connectors/vpc-main",
      id: "VpcConnector:projects/acme-staging/locations/europe-west1/connectors/vpc-main",
      managed: true,
      region: "europe-west1",
    });
    expect(api.spec.template?.cloudSqlInstances?.map((r) => [r.name, r.managed, r.region])).toEqual([
      ["projects/acme-staging/instances/main-db", true, "europe-west1"],
      ["projects/acme-data/instances/reports", false, "europe-west1"],
    ]);
  });

  it("refuses a Cloud SQL connection name whose region disagrees with the loaded instance", () => {
    const set = load({
      "specs/db.yaml": `${HEAD}kind: SqlInstance\nmetadata: {name: main-db, project: acme-staging, region: europe-west1}\nspec: {}\n`,
      "specs/api.yaml": `${HEAD}kind: CloudRunService\nmetadata: {name: api, project: acme-staging, region: europe-west1}\nspec:\n  template:\n    cloudSqlInstances: [acme-staging:us-central1:main-db]\n`,
    });
    expect(set.problems.map((p) => p.message)).toEqual([
      "spec.template.cloudSqlInstances[0]: connection name `acme-staging:us-central1:main-db` says region us-central1, but SqlInstance/main-db is in europe-west1",
    ]);
  });

  it("asks for a region when a backend names a service that exists in several regions", () => {
    const svc = (region: string) =>
      `${HEAD}kind: CloudRunService\nmetadata: {name: api, project: acme-staging, region: ${region}}\nspec: {}\n`;
    const set = load({
      "specs/eu.yaml": svc("europe-west1"),
      "specs/us.yaml": svc("us-central1"),
      "specs/lb.yaml": `${HEAD}kind: BackendService\nmetadata: {name: api, project: acme-staging}\nspec:\n  backends:\n    - serverlessNeg: {service: api}\n    - serverlessNeg: {service: api, region: us-central1}\n`,
    });
    expect(set.problems.map(formatProblem)).toEqual([
      "specs/lb.yaml:6:32  BackendService/api  spec.backends[0].serverlessNeg.service: CloudRunService `api` exists in several regions (europe-west1, us-central1); say which with a region or a full name projects/P/locations/R/services/NAME",
    ]);
  });

  it("carries database flags as the API strings, booleans as on/off and null as must-not-be-set", () => {
    const set = load({
      "specs/db.yaml": `${HEAD}kind: SqlInstance
metadata: {name: main-db, project: acme-staging, region: europe-west1}
spec:
  tier: db-custom-2-7680
  databaseFlags: {max_connections: 200, log_connections: true, autovacuum: false, huge_pages: null}
`,
    });
    expect(set.problems).toEqual([]);
    const db = only(set.resources, "SqlInstance");
    expect(db.spec.databaseFlags).toEqual({
      max_connections: "200",
      log_connections: "on",
      autovacuum: "off",
      huge_pages: null,
    });
    expect(db.spec.allowRestart).toBe(false);
  });

  it("reports a missing path without throwing, and reads directories recursively without capstan.yaml", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-spec-"));
    mkdirSync(join(dir, "specs", "deep"), { recursive: true });
    writeFileSync(join(dir, "specs", "capstan.yaml"), "project: acme-staging\n");
    writeFileSync(
      join(dir, "specs", "deep", "hc.yml"),
      `${HEAD}kind: HealthCheck\nmetadata: {name: hc}\nspec: {timeoutSec: 3}\n`,
    );
    writeFileSync(join(dir, "specs", "notes.txt"), "not a spec");
    const set = await loadSpecs(["specs", "missing"], { cwd: dir });
    expect(set.files).toEqual(["specs/deep/hc.yml"]);
    expect(set.resources.map((r) => r.id)).toEqual([
      "HealthCheck:projects/acme-staging/global/healthChecks/hc",
    ]);
    expect(set.problems.map(formatProblem)).toEqual(["missing:1:1  -  no such file or directory"]);
  });
});
