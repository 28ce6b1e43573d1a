import { loadRoot, rpcsOf } from "../core/protos.ts";
import type { JsonObject, SimContext, SimService } from "../core/types.ts";
import { SqlFlags } from "./flags.ts";
import { SqlInstances, type SqlInstancesSection } from "./instances.ts";
import { SqlOperations } from "./operations.ts";

export { SQL_DURATIONS } from "./instances.ts";

const INSTANCES = "google.cloud.sql.v1.SqlInstancesService";
const OPERATIONS = "google.cloud.sql.v1.SqlOperationsService";
const FLAGS = "google.cloud.sql.v1.SqlFlagsService";

/**
 * CloudSqlSection is the fixture section `sql`: instances in the API's DatabaseInstance
 * JSON, partial, each with `project` and `name` (or a full `projects/<p>/instances/<i>`
 * name). Server-side fields (kind, state RUNNABLE, settingsVersion, connectionName,
 * selfLink, defaults of every setting) are filled on load.
 */
export interface CloudSqlSection {
  readonly instances?: SqlInstancesSection;
  /**
   * flags.list items (google.cloud.sql.v1.Flag JSON) served and accepted on top of the
   * committed snapshot: flags GCP added after the snapshot was taken.
   */
  readonly flags?: readonly JsonObject[];
}

/**
 * CloudSqlService is the simulated Cloud SQL Admin API plus what other parts of the
 * simulator (the load model) need to know about an instance.
 */
export interface CloudSqlService extends SimService {
  /** serving says whether an instance accepts connections; false while it restarts. */
  serving(project: string, instance: string): boolean;
  /**
   * control serves `/__sim/services/sql/<subpath>`:
   * `GET instances/<project>/<instance>` returns `{state, serving, operation, settingsVersion}`.
   */
  control(method: string, subpath: string, body: JsonObject): unknown;
}

/**
 * cloudSql simulates the Cloud SQL Admin API v1 (sqladmin.googleapis.com) for
 * PostgreSQL instances: instances list/get/patch/update/restart, operations get/list and
 * the flags list (https://cloud.google.com/sql/docs/postgres/admin-api/rest). Routes come
 * from the `@google-cloud/sql` client's own protos.
 */
export function cloudSql(ctx: SimContext): CloudSqlService {
  const root = loadRoot("sql");
  const operations = new SqlOperations(ctx);
  const flags = new SqlFlags();
  const instances = new SqlInstances(ctx, operations, flags);
  const project = (body: JsonObject) => String(body["project"]);

  return {
    api: "sqladmin.googleapis.com",
    key: "sql",
    rpcs: [...rpcsOf(root, INSTANCES), ...rpcsOf(root, OPERATIONS), ...rpcsOf(root, FLAGS)],
    handlers: {
      [`${INSTANCES}.List`]: (req) => instances.list(req),
      [`${INSTANCES}.Get`]: (req) => instances.get(req),
      [`${INSTANCES}.Patch`]: (req) => instances.patch(req),
      [`${INSTANCES}.Update`]: (req) => instances.update(req),
      [`${INSTANCES}.Restart`]: (req) => instances.restart(req),
      [`${OPERATIONS}.Get`]: (req) => operations.get(project(req.body), String(req.body["operation"])),
      [`${OPERATIONS}.List`]: (req) =>
        operations.list(
          project(req.body),
          (req.body["instance"] as string | undefined) || undefined,
          req.body["maxResults"],
          req.body["pageToken"],
        ),
      [`${FLAGS}.List`]: (req) => flags.list(req.body),
    },
    load(section) {
      operations.clear();
      flags.load((section as CloudSqlSection | undefined)?.flags);
      instances.load((section as CloudSqlSection | undefined)?.instances);
    },
    dump() {
      const extra = flags.dump();
      return { instances: instances.dump(), ...(extra.length ? { flags: extra } : {}) };
    },
    edit(req) {
      if (req.kind !== "instance") {
        throw new TypeError(`sql: unknown kind \`${req.kind}\`; expected instance`);
      }
      return instances.edit(req);
    },
    serving: (p, i) => instances.serving(p, i),
    // Cloud SQL Admin's rate quotas are per region (src/gcp/quotas.ts): a call about an
    // instance, or about one of its operations, counts in the instance's region; a
    // project-wide call (instances.list, flags.list) in "global".
    quotaLocation(_rpc, request) {
      const p = String(request["project"] ?? "");
      const instance =
        (request["instance"] as string | undefined) ||
        (request["operation"] ? operations.instanceOf(p, String(request["operation"])) : undefined);
      return (instance && instances.regionOf(p, instance)) || "global";
    },
    control(method, subpath) {
      const m = /^instances\/([^/]+)\/([^/]+)$/.exec(subpath);
      if (method === "GET" && m) return instances.status(m[1]!, m[2]!);
      throw new TypeError(
        `sql: no control route ${method} ${subpath}; expected GET instances/<project>/<instance>`,
      );
    },
  };
}
