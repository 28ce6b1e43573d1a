import { names } from "../../gcp/names.ts";
import { SimError } from "../core/errors.ts";
import { paginate } from "../core/paging.ts";
import type { Handler, JsonObject } from "../core/types.ts";

const SVC = "google.cloud.run.v2.Revisions";

/** RevisionState is where a revision is in its life: being deployed, serving-capable, or failed. */
export type RevisionState = "RECONCILING" | "READY" | "FAILED";

/** RevisionRecord is one immutable revision of a simulated Cloud Run service. */
export interface RevisionRecord {
  /** Full name, `projects/p/locations/l/services/s/revisions/r`. */
  readonly name: string;
  /** The parent service's full name. */
  readonly service: string;
  readonly uid: string;
  /** Creation order, for listing newest first. */
  readonly seq: number;
  readonly createTime: string;
  updateTime: string;
  readonly creator: string;
  readonly etag: string;
  readonly launchStage: string;
  /** The RevisionTemplate it was made from, defaults filled. */
  readonly template: JsonObject;
  state: RevisionState;
  /** Why it failed, for FAILED. */
  message: string;
  /** The google.rpc.Code its deploy operation failed with, for FAILED. */
  failureCode: number;
  lastTransitionTime: string;
}

/** shortName is a revision's last name segment, the form services and traffic use. */
export function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf("/") + 1);
}

/** Template fields that a Revision carries under the same name (revision.proto). */
const TEMPLATE_FIELDS = [
  "scaling",
  "vpcAccess",
  "maxInstanceRequestConcurrency",
  "timeout",
  "serviceAccount",
  "containers",
  "volumes",
  "executionEnvironment",
  "encryptionKey",
  "serviceMesh",
  "encryptionKeyRevocationAction",
  "encryptionKeyShutdownDuration",
  "sessionAffinity",
  "nodeSelector",
  "gpuZonalRedundancyDisabled",
] as const;

/** templateOfRevision recovers a RevisionTemplate from a Revision in JSON (fixture load). */
export function templateOfRevision(revision: JsonObject): JsonObject {
  const t: JsonObject = {};
  for (const k of [...TEMPLATE_FIELDS, "labels", "annotations"])
    if (revision[k] !== undefined) t[k] = revision[k];
  return t;
}

function condition(type: string, state: string, at: string, extra: JsonObject = {}): JsonObject {
  return { type, state, lastTransitionTime: at, ...extra };
}

/**
 * revisionConditions are a revision's Knative-style conditions in v2 form: Ready,
 * ContainerHealthy and ResourcesAvailable (condition.proto; a failed container start is
 * reported on Ready and on ContainerHealthy with HEALTH_CHECK_CONTAINER_ERROR).
 */
function revisionConditions(r: RevisionRecord): JsonObject[] {
  const at = r.lastTransitionTime;
  switch (r.state) {
    case "RECONCILING":
      return [
        condition("Ready", "CONDITION_RECONCILING", at),
        condition("ContainerHealthy", "CONDITION_RECONCILING", at),
        condition("ResourcesAvailable", "CONDITION_RECONCILING", at),
      ];
    case "READY":
      return [
        condition("Ready", "CONDITION_SUCCEEDED", at),
        condition("ContainerHealthy", "CONDITION_SUCCEEDED", at),
        condition("ResourcesAvailable", "CONDITION_SUCCEEDED", at),
      ];
    case "FAILED":
      return [
        condition("Ready", "CONDITION_FAILED", at, { message: r.message, severity: "ERROR" }),
        condition("ContainerHealthy", "CONDITION_FAILED", at, {
          message: r.message,
          severity: "ERROR",
          revisionReason: "HEALTH_CHECK_CONTAINER_ERROR",
        }),
        condition("ResourcesAvailable", "CONDITION_SUCCEEDED", at),
      ];
  }
}

/** revisionJson renders a revision as google.cloud.run.v2.Revision. */
export function revisionJson(r: RevisionRecord): JsonObject {
  const n = names.runRevision.parse(r.name)!;
  const out: JsonObject = {
    name: r.name,
    uid: r.uid,
    generation: "1",
    createTime: r.createTime,
    updateTime: r.updateTime,
    launchStage: r.launchStage,
    service: r.service,
    ...(r.state === "RECONCILING" ? { reconciling: true } : {}),
    conditions: revisionConditions(r),
    observedGeneration: "1",
    logUri: `https://console.cloud.google.com/logs/viewer?project=${n.project}&resource=cloud_run_revision/service_name/${n.service}/revision_name/${n.revision}`,
    creator: r.creator,
    etag: r.etag,
  };
  if (r.template["labels"]) out["labels"] = r.template["labels"];
  if (r.template["annotations"]) out["annotations"] = r.template["annotations"];
  for (const k of TEMPLATE_FIELDS) if (r.template[k] !== undefined) out[k] = r.template[k];
  return out;
}

/** RunRevisions stores the revisions of every simulated service and serves the Revisions API. */
export class RunRevisions {
  #byName = new Map<string, RevisionRecord>();

  /** clear forgets every revision (fixture load). */
  clear(): void {
    this.#byName = new Map();
  }

  /** add stores a revision. */
  add(r: RevisionRecord): void {
    this.#byName.set(r.name, r);
  }

  /** get returns a revision by full name. */
  get(name: string): RevisionRecord | undefined {
    return this.#byName.get(name);
  }

  /** all returns every revision, oldest first. */
  all(): RevisionRecord[] {
    return [...this.#byName.values()].sort((a, b) => a.seq - b.seq);
  }

  /** handlers serve google.cloud.run.v2.Revisions. */
  handlers(): Record<string, Handler> {
    return {
      [`${SVC}.GetRevision`]: (req) => {
        const name = String(req.body["name"]);
        const r = this.#byName.get(name);
        if (!r) throw new SimError(`revision "${name}" not found`, { status: "NOT_FOUND" });
        return revisionJson(r);
      },
      [`${SVC}.ListRevisions`]: (req) => {
        const parent = String(req.body["parent"]);
        const p = names.runService.parse(parent);
        if (!p) throw new SimError(`revisions of "${parent}" are not simulated`, { status: "NOT_FOUND" });
        // "To list all Revisions across Services, use "-" instead of Service name"
        // (revision.proto, ListRevisionsRequest.parent). Newest first (ListRevisions doc).
        const prefix =
          p.service === "-" ? `projects/${p.project}/locations/${p.location}/services/` : `${parent}/`;
        const all = [...this.#byName.values()]
          .filter((r) => r.name.startsWith(prefix))
          .sort((a, b) => b.seq - a.seq);
        const page = paginate(all, req.body["pageSize"], req.body["pageToken"], {
          defaultSize: 100,
          maxSize: 1000,
        });
        return { revisions: page.items.map(revisionJson), nextPageToken: page.nextPageToken ?? "" };
      },
    };
  }
}
