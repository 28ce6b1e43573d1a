import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { registerRun } from "../../src/cli/run.ts";
import { parseShard } from "../../src/controller/shard.ts";
import { GCS_LEASE_ROLE } from "../../src/lease/gcs.ts";
import { parseLeaseUrl, shardLease } from "../../src/lease/index.ts";
import { K8S_LEASE_VERBS } from "../../src/lease/k8s.ts";
import { parseDuration } from "../../src/spec/units.ts";

/**
 * deploy/ says what it does: the manifests are parsed and their `capstan run` flags,
 * leases and RBAC checked against the code that reads them.
 */
const ROOT = join(import.meta.dirname, "..", "..");
// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML.
type Doc = any;
const docs = (file: string): Doc[] =>
  parseAllDocuments(readFileSync(join(ROOT, file), "utf8")).map((d) => d.toJS() as Doc);

/** The `capstan run` options, from the command's own definition. */
const RUN_OPTIONS = (() => {
  const program = new Command();
  registerRun(program);
  const run = program.commands.find((c) => c.name() === "run")!;
  return new Map(run.options.map((o) => [o.long!, o]));
})();

/** flags reads `run --a b --c d` into a map, refusing any flag `capstan run` does not have. */
function flags(args: readonly string[]): Map<string, string> {
  expect(args[0]).toBe("run");
  const out = new Map<string, string>();
  for (let i = 1; i < args.length; i += 2) {
    const name = args[i]!;
    expect(RUN_OPTIONS.has(name), `capstan run has no option ${name}`).toBe(true);
    out.set(name, args[i + 1]!);
  }
  return out;
}

/** checkTimings applies the CLI's own rules: renew interval < renew deadline (2/3 of duration). */
function checkTimings(f: Map<string, string>): void {
  const duration = parseDuration(f.get("--lease-duration") ?? "15s")!;
  const renew = parseDuration(f.get("--renew-interval") ?? "5s")!;
  expect(renew).toBeLessThan((duration * 2) / 3);
}

function rbacAllows(roles: Doc[], verb: string, name: string | undefined): boolean {
  return roles.some((r: Doc) =>
    r.rules.some(
      (rule: Doc) =>
        rule.apiGroups.includes("coordination.k8s.io") &&
        rule.resources.includes("leases") &&
        rule.verbs.includes(verb) &&
        (rule.resourceNames === undefined || (name !== undefined && rule.resourceNames.includes(name))),
    ),
  );
}

describe("deploy/kubernetes", () => {
  const all = [...docs("deploy/kubernetes/capstan.yaml"), ...docs("deploy/kubernetes/capstan-sharded.yaml")];
  const ofKind = (kind: string) => all.filter((d) => d.kind === kind);

  function checkWorkload(workload: Doc, leaseNames: (shard: string | undefined) => string[]): void {
    const spec = workload.spec.template.spec;
    const container = spec.containers[0];
    const f = flags(container.args);
    checkTimings(f);
    const lease = parseLeaseUrl(f.get("--lease")!);
    expect(lease.scheme).toBe("k8s");
    if (lease.scheme !== "k8s") return;
    expect(lease.namespace).toBe(workload.metadata.namespace);
    // Its service account is bound to Roles that allow exactly what the lease calls.
    const bound = ofKind("RoleBinding").filter((b: Doc) =>
      b.subjects.some((s: Doc) => s.kind === "ServiceAccount" && s.name === spec.serviceAccountName),
    );
    const roles = ofKind("Role").filter(
      (r: Doc) =>
        r.metadata.namespace === lease.namespace &&
        bound.some((b: Doc) => b.roleRef.name === r.metadata.name),
    );
    for (const name of leaseNames(f.get("--shard"))) {
      for (const verb of K8S_LEASE_VERBS.named)
        expect(rbacAllows(roles, verb, name), `${verb} ${name}`).toBe(true);
    }
    for (const verb of K8S_LEASE_VERBS.create) expect(rbacAllows(roles, verb, undefined), verb).toBe(true);
    expect(rbacAllows(roles, "delete", undefined) || rbacAllows(roles, "list", undefined)).toBe(false);
    // The state folder is on a writable volume (the root filesystem is read-only).
    const state = f.get("--state-dir")!;
    expect(container.volumeMounts.some((m: Doc) => state.startsWith(m.mountPath))).toBe(true);
  }

  it("runs 2 replicas on the k8s:// lease with a PodDisruptionBudget and the Role the lease needs", () => {
    const [deployment] = ofKind("Deployment");
    expect(deployment.spec.replicas).toBe(2);
    checkWorkload(deployment, () => ["capstan-leader"]);
    const pdb = ofKind("PodDisruptionBudget")[0];
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(pdb.spec.minAvailable).toBe(1);
  });

  it("runs one shard per StatefulSet pod, the shard from the pod ordinal, each with its own Lease", () => {
    const [set] = ofKind("StatefulSet");
    const container = set.spec.template.spec.containers[0];
    const env = container.env.find((e: Doc) => e.name === "SHARD");
    expect(env.valueFrom.fieldRef.fieldPath).toBe("metadata.labels['apps.kubernetes.io/pod-index']");
    checkWorkload(set, (shard) => {
      expect(shard).toBe(`$(SHARD)/${set.spec.replicas}`);
      return Array.from({ length: set.spec.replicas }, (_, i) => {
        expect(parseShard(shard!.replace("$(SHARD)", String(i)))).toEqual({
          index: i,
          count: set.spec.replicas,
        });
        const base = parseLeaseUrl(flags(container.args).get("--lease")!);
        const own = shardLease(base, i);
        return own.scheme === "k8s" ? own.name : "";
      });
    });
  });
});

describe("deploy/cloud-run", () => {
  it("uses the gs:// lease, in the bucket the simulator's staging fixture declares, and names its role", () => {
    const [service] = docs("deploy/cloud-run/capstan.service.yaml");
    const f = flags(service.spec.template.spec.containers[0].args);
    checkTimings(f);
    const lease = parseLeaseUrl(f.get("--lease")!);
    expect(lease.scheme).toBe("gs");
    if (lease.scheme !== "gs") return;
    const [fixture] = docs("fixtures/staging-degraded.yaml");
    expect(fixture.storage.buckets.map((b: Doc) => b.name)).toContain(lease.bucket);
    expect(f.get("--state-dir")).toMatch(/^\/tmp\//);
    expect(readFileSync(join(ROOT, "deploy/iam.md"), "utf8")).toContain(`\`${GCS_LEASE_ROLE}\``);
  });
});
