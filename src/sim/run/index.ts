import { names } from "../../gcp/names.ts";
import { rejectUnknownFields } from "../core/codec.ts";
import { fnv1a, projectNumberOf } from "../core/projects.ts";
import { loadRoot, rpcsOf } from "../core/protos.ts";
import type { JsonObject, SimContext, SimService } from "../core/types.ts";
import { RunOperations } from "./operations.ts";
import { type RevisionRecord, RunRevisions, revisionJson, templateOfRevision } from "./revisions.ts";
import { RunServices } from "./services.ts";
import { decodeMessage } from "./validation.ts";

/** DEFAULT_CALLER is who API writes are attributed to unless the fixture names someone. */
export const DEFAULT_CALLER = "capstan@capstan-sim.iam.gserviceaccount.com";

/** CONSOLE_USER is who out-of-band edits are attributed to. */
export const CONSOLE_USER = "console-user@example.com";

/**
 * Fixture section `run`:
 * `{services: [Service JSON], revisions?: [Revision JSON], caller?, projectNumbers?}`.
 * Services are in the v2 API's JSON shape and may be partial (a name and a template with
 * one container image is enough); server defaults are filled as GCP fills them and each
 * service gets a ready revision for its template unless `revisions` lists its history.
 * `dump()` returns the same shape, so a dumped state loads back.
 */
export interface RunSection {
  /** Principal of API writes (Service.creator/lastModifier). @default DEFAULT_CALLER */
  readonly caller?: string;
  /** Project numbers by project id; others are derived from the id. */
  readonly projectNumbers?: Readonly<Record<string, string>>;
  readonly services?: readonly JsonObject[];
  readonly revisions?: readonly JsonObject[];
}

/**
 * cloudRun simulates the Cloud Run Admin API v2 (services, revisions and their
 * long-running operations) for `gcp.run.services` and `gcp.run.revisions`
 * (https://cloud.google.com/run/docs/reference/rest/v2).
 * Operation durations: `run.deploy` (a template change, default 30 s) and `run.update`
 * (any other change, default 5 s).
 */
export function cloudRun(ctx: SimContext): SimService {
  const root = loadRoot("run");
  const serviceType = root.lookupType("google.cloud.run.v2.Service");
  const revisionType = root.lookupType("google.cloud.run.v2.Revision");
  const operations = new RunOperations(ctx);
  const revisions = new RunRevisions();
  let caller = DEFAULT_CALLER;
  let projectNumbers: Record<string, string> = {};
  const services = new RunServices({
    ctx,
    root,
    revisions,
    operations,
    caller: () => caller,
    projectNumber: (p) => projectNumberOf(p, projectNumbers),
  });

  const revisionFromFixture = (json: JsonObject, i: number): RevisionRecord => {
    rejectUnknownFields(revisionType, json, `run.revisions[${i}]`);
    const r = decodeMessage(revisionType, json, "revision");
    const name = String(r["name"] ?? "");
    const n = names.runRevision.parse(name);
    if (!n) throw new TypeError(`run: bad revision name \`${name}\``);
    const ready = ((r["conditions"] ?? []) as JsonObject[]).find((c) => c["type"] === "Ready");
    const failed = ready?.["state"] === "CONDITION_FAILED";
    const at = String(r["createTime"] ?? ctx.nowIso());
    return {
      name,
      service: `projects/${n.project}/locations/${n.location}/services/${n.service}`,
      uid: String(r["uid"] ?? `${fnv1a(name).toString(16)}-0000-4000-8000-000000000000`),
      seq: services.nextRevisionSeq(),
      createTime: at,
      updateTime: String(r["updateTime"] ?? at),
      creator: String(r["creator"] ?? caller),
      etag: String(r["etag"] ?? `"${fnv1a(name).toString(16)}"`),
      launchStage: String(r["launchStage"] ?? "GA"),
      template: templateOfRevision(r),
      // A revision still deploying when the state was saved is taken as deployed.
      state: failed ? "FAILED" : "READY",
      message: failed ? String(ready?.["message"] ?? "") : "",
      failureCode: failed ? 9 : 0,
      lastTransitionTime: String(ready?.["lastTransitionTime"] ?? at),
    };
  };

  return {
    api: "run.googleapis.com",
    key: "run",
    rpcs: [
      ...rpcsOf(root, "google.cloud.run.v2.Services"),
      ...rpcsOf(root, "google.cloud.run.v2.Revisions"),
      ...RunOperations.rpcs(root),
    ],
    handlers: { ...services.handlers(), ...revisions.handlers(), ...operations.handlers() },
    load(section) {
      const sec = (section ?? {}) as RunSection;
      caller = sec.caller ?? DEFAULT_CALLER;
      projectNumbers = { ...(sec.projectNumbers ?? {}) };
      operations.clear();
      revisions.clear();
      services.clear();
      const history = new Map<string, RevisionRecord[]>();
      (sec.revisions ?? []).forEach((json, i) => {
        const r = revisionFromFixture(json, i);
        history.set(r.service, [...(history.get(r.service) ?? []), r]);
      });
      (sec.services ?? []).forEach((json, i) => {
        rejectUnknownFields(serviceType, json, `run.services[${i}]`);
        services.seed(json, history.get(String(json["name"])) ?? [], caller);
      });
    },
    dump() {
      return {
        caller,
        projectNumbers,
        services: services.all().map((s) => services.json(s)),
        revisions: revisions.all().map(revisionJson),
      };
    },
    edit(req) {
      // `{kind: "service", name, patch}`: what a person changes in the console.
      if (req.kind !== "service") throw new TypeError(`run: unknown kind \`${req.kind}\`; expected service`);
      return services.edit(req.name, req.patch, CONSOLE_USER);
    },
  };
}
