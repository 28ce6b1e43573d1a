import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.ts";
import { defaultStateDir } from "../../src/cli/run.ts";
import { parseLeaseUrl, shardLease } from "../../src/lease/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "capstan-flags-"));
  await mkdir(join(dir, "specs"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** run calls `capstan run ...` in-process; these all stop at their flags, before serving. */
async function run(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(["node", "capstan", "run", "--port", "0", ...args]);
    return { code, stderr };
  } finally {
    spy.mockRestore();
  }
}

describe("capstan run's lease and state flags", () => {
  it("keeps its state outside the specs by default: $XDG_STATE_HOME/capstan, else ./.capstan", () => {
    expect(defaultStateDir({ XDG_STATE_HOME: "/var/lib/me" }, "/work")).toBe("/var/lib/me/capstan");
    expect(defaultStateDir({}, "/work")).toBe("/work/.capstan");
  });

  it("refuses a state folder inside --specs, with what to do instead", async () => {
    const specs = join(dir, "specs");
    const out = await run("--specs", specs, "--state-dir", join(specs, ".capstan"));
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      `capstan: the state folder ${join(specs, ".capstan")} is inside --specs ${specs}: capstan's lease and state would land in your spec files' working tree; pass --state-dir outside it (or set XDG_STATE_HOME)\n`,
    );
  });

  it("refuses a malformed --lease, --shard or --renew-deadline with the forms it takes", async () => {
    const specs = join(dir, "specs");
    const state = ["--specs", specs, "--state-dir", join(dir, "state")];
    expect((await run(...state, "--lease", "s3://bucket/key")).stderr).toBe(
      "capstan: --lease s3://bucket/key: unknown scheme `s3`; expected gs://BUCKET/OBJECT, k8s://NAMESPACE/NAME or file://PATH (a plain path is a file)\n",
    );
    expect((await run(...state, "--lease", "gs://capstan-leases")).stderr).toMatch(
      /--lease gs:\/\/capstan-leases: name the lease object after the bucket/,
    );
    expect((await run(...state, "--lease", "k8s://Capstan/leader")).stderr).toMatch(
      /a Kubernetes lease is k8s:\/\/NAMESPACE\/NAME with lowercase DNS names/,
    );
    expect((await run(...state, "--shard", "4/4")).stderr).toBe(
      "capstan: --shard must be I/N with 0 <= I < N <= 1000, e.g. 0/4, got `4/4`\n",
    );
    expect((await run(...state, "--renew-deadline", "20s")).stderr).toMatch(
      /--renew-deadline must be shorter than --lease-duration/,
    );
  });

  it("gives each shard its own lease beside the named one", () => {
    expect(shardLease(parseLeaseUrl("gs://leases/capstan/lease"), 2)).toEqual({
      scheme: "gs",
      bucket: "leases",
      object: "capstan/lease-2",
    });
    expect(shardLease(parseLeaseUrl("k8s://capstan/leader"), 0)).toEqual({
      scheme: "k8s",
      namespace: "capstan",
      name: "leader-0",
    });
    expect(shardLease(parseLeaseUrl("file:///var/lib/capstan/lease.json"), 3)).toEqual({
      scheme: "file",
      path: "/var/lib/capstan/lease-3.json",
    });
    expect(parseLeaseUrl("state/lease.json", "/work")).toEqual({
      scheme: "file",
      path: "/work/state/lease.json",
    });
  });
});
