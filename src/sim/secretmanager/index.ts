import { names } from "../../gcp/names.ts";
import { SimError } from "../core/errors.ts";
import { paginate } from "../core/paging.ts";
import { projectNumberOf } from "../core/projects.ts";
import { loadRoot, rpcsOf } from "../core/protos.ts";
import type { JsonObject, SimContext, SimService } from "../core/types.ts";

const SVC = "google.cloud.secretmanager.v1.SecretManagerService";

/** VersionState mirrors google.cloud.secretmanager.v1.SecretVersion.State. */
export type VersionState = "ENABLED" | "DISABLED" | "DESTROYED";

interface Version {
  readonly id: number;
  state: VersionState;
  readonly createTime: string;
  destroyTime?: string;
}

interface Secret {
  readonly name: string;
  readonly createTime: string;
  labels: Record<string, string>;
  versions: Version[];
  etag: string;
}

/**
 * Fixture section `secretmanager`:
 * `{secrets: [{name: projects/p/secrets/s, labels?, versions: [{state: ENABLED}, ...]}]}`.
 * Versions are numbered from 1 in the order given, as Secret Manager numbers them.
 * Payloads are not modelled: capstan never reads a secret's value.
 */
export interface SecretManagerSection {
  /** Project numbers by project id; others are derived from the id (src/sim/core/projects.ts). */
  readonly projectNumbers?: Readonly<Record<string, string>>;
  readonly secrets?: readonly {
    name: string;
    labels?: Record<string, string>;
    versions?: readonly { state?: VersionState }[];
  }[];
}

/**
 * secretManager simulates Secret Manager v1 secret and version metadata
 * (https://cloud.google.com/secret-manager/docs/reference/rest).
 */
export function secretManager(ctx: SimContext): SimService {
  const root = loadRoot("secret-manager");
  let secrets = new Map<string, Secret>();
  let projectNumbers: Readonly<Record<string, string>> = {};
  // Secret Manager names secrets and versions by project number, whether they were asked
  // for by project id or number (test/fixtures/recorded/secretmanager/version-enabled.json
  // and error-404-secret.json: asked as projects/${projectId}/..., answered as
  // projects/${projectNumber}/...). Secrets are kept by their id name.
  const byNumber = (name: string): string => {
    const m = /^projects\/([^/]+)(\/.*)?$/.exec(name);
    return m ? `projects/${projectNumberOf(m[1]!, projectNumbers)}${m[2] ?? ""}` : name;
  };
  const byId = (name: string): string => {
    const m = /^projects\/(\d+)(\/.*)?$/.exec(name);
    if (!m) return name;
    for (const s of secrets.values()) {
      const project = s.name.split("/")[1]!;
      if (projectNumberOf(project, projectNumbers) === m[1]) return `projects/${project}${m[2] ?? ""}`;
    }
    return name;
  };

  const secretJson = (s: Secret): JsonObject => ({
    name: byNumber(s.name),
    createTime: s.createTime,
    labels: s.labels,
    replication: { automatic: {} },
    etag: s.etag,
  });
  const versionJson = (s: Secret, v: Version): JsonObject => ({
    name: byNumber(`${s.name}/versions/${v.id}`),
    createTime: v.createTime,
    state: v.state,
    // The secret's replication, as recorded (replicationStatus.automatic: {}).
    replicationStatus: { automatic: {} },
    ...(v.destroyTime ? { destroyTime: v.destroyTime } : {}),
    etag: `"${v.id}-${v.state}"`,
  });
  const getSecret = (name: string): Secret => {
    const s = secrets.get(byId(name));
    if (!names.secret.parse(name))
      throw new SimError(`Invalid resource field value in the request.`, { status: "INVALID_ARGUMENT" });
    // "Secret [projects/<number>/secrets/<id>] not found." (recorded/secretmanager/error-404-secret.json).
    if (!s) throw new SimError(`Secret [${byNumber(name)}] not found.`, { status: "NOT_FOUND" });
    return s;
  };
  const getVersion = (name: string): { s: Secret; v: Version } => {
    const n = names.secretVersion.parse(name);
    if (!n)
      throw new SimError(`Invalid resource field value in the request.`, { status: "INVALID_ARGUMENT" });
    const s = getSecret(names.secret.format(n));
    // "latest" is an alias to the most recently created SecretVersion
    // (google/cloud/secretmanager/v1/service.proto, GetSecretVersionRequest.name).
    const v = n.version === "latest" ? s.versions.at(-1) : s.versions.find((x) => String(x.id) === n.version);
    if (!v) throw new SimError(`Secret Version [${byNumber(name)}] not found.`, { status: "NOT_FOUND" });
    return { s, v };
  };

  return {
    api: "secretmanager.googleapis.com",
    key: "secretmanager",
    rpcs: rpcsOf(root, SVC),
    handlers: {
      [`${SVC}.ListSecrets`]: (req) => {
        const parent = byId(String(req.body["parent"]));
        const all = [...secrets.values()].filter((s) => s.name.startsWith(`${parent}/secrets/`));
        // Secret Manager: page size defaults to 25000 at most (ListSecretsRequest.page_size).
        const page = paginate(all, req.body["pageSize"], req.body["pageToken"], {
          defaultSize: 25000,
          maxSize: 25000,
        });
        return {
          secrets: page.items.map(secretJson),
          nextPageToken: page.nextPageToken ?? "",
          totalSize: all.length,
        };
      },
      [`${SVC}.GetSecret`]: (req) => secretJson(getSecret(String(req.body["name"]))),
      [`${SVC}.ListSecretVersions`]: (req) => {
        const s = getSecret(String(req.body["parent"]));
        // Newest first, as the API lists them.
        const all = [...s.versions].reverse();
        const page = paginate(all, req.body["pageSize"], req.body["pageToken"], {
          defaultSize: 25000,
          maxSize: 25000,
        });
        return {
          versions: page.items.map((v) => versionJson(s, v)),
          nextPageToken: page.nextPageToken ?? "",
          totalSize: all.length,
        };
      },
      [`${SVC}.GetSecretVersion`]: (req) => {
        const { s, v } = getVersion(String(req.body["name"]));
        return versionJson(s, v);
      },
    },
    load(section) {
      const sec = (section ?? {}) as SecretManagerSection;
      secrets = new Map();
      projectNumbers = { ...(sec.projectNumbers ?? {}) };
      for (const s of sec.secrets ?? []) {
        if (!names.secret.parse(s.name)) throw new TypeError(`secretmanager: bad secret name \`${s.name}\``);
        secrets.set(s.name, {
          name: s.name,
          createTime: ctx.nowIso(),
          labels: { ...(s.labels ?? {}) },
          etag: `"${ctx.nextId("e")}"`,
          versions: (s.versions ?? []).map((v, i) => ({
            id: i + 1,
            state: v.state ?? "ENABLED",
            createTime: ctx.nowIso(),
            ...(v.state === "DESTROYED" ? { destroyTime: ctx.nowIso() } : {}),
          })),
        });
      }
    },
    dump() {
      return {
        secrets: [...secrets.values()].map((s) => ({
          name: s.name,
          labels: s.labels,
          versions: s.versions.map((v) => ({ state: v.state })),
        })),
      };
    },
    edit(req) {
      // Out-of-band edits: `{kind: "version", name: ".../versions/2", patch: {state: "DISABLED"}}`
      // or `{kind: "secret", name, patch: {addVersion: {state}}}`.
      if (req.kind === "version") {
        const { s, v } = getVersion(req.name);
        const state = req.patch["state"] as VersionState;
        v.state = state;
        if (state === "DESTROYED") v.destroyTime = ctx.nowIso();
        return versionJson(s, v);
      }
      if (req.kind === "secret") {
        const s = getSecret(req.name);
        const add = req.patch["addVersion"] as { state?: VersionState } | undefined;
        if (add)
          s.versions.push({
            id: s.versions.length + 1,
            state: add.state ?? "ENABLED",
            createTime: ctx.nowIso(),
          });
        if (req.patch["labels"])
          s.labels = { ...s.labels, ...(req.patch["labels"] as Record<string, string>) };
        s.etag = `"${ctx.nextId("e")}"`;
        return secretJson(s);
      }
      throw new TypeError(`secretmanager: unknown kind \`${req.kind}\`; expected secret or version`);
    },
  };
}
