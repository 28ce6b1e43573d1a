import type { protos } from "@google-cloud/sql";
import type { MaintenanceWindow } from "../apply/window.ts";
import type { FieldChange } from "../diff/index.ts";
import type { Gcp } from "../gcp/access.ts";
import { gaxCallOptions } from "../gcp/call.ts";
import { type SqlFlagCatalog, sqlFlagRequiresRestart } from "../gcp/catalog/sql.ts";
import { enumName, protoEnum } from "../gcp/enums.ts";
import { names } from "../gcp/names.ts";
import type { OperationPoller } from "../gcp/operations.ts";
import { getOrUndefined, listAllPages } from "../gcp/read.ts";
import { liveSqlFlags, SQL_API, SQL_OPERATION_STATUS, sqlOperationPoller } from "../gcp/sql.ts";
import type { Disruption } from "../plan/model.ts";
import { checkAgainstLive, type LiveSpecOf } from "../spec/rules.ts";
import type { Resource, SqlInstanceSpec } from "../spec/types.ts";
import type {
  CheckResult,
  Observed,
  Readiness,
  Reconciler,
  ResourceRef,
  Scope,
  WriteResult,
} from "./types.ts";

type IDatabaseInstance = protos.google.cloud.sql.v1.IDatabaseInstance;
type ISettings = protos.google.cloud.sql.v1.ISettings;
type IDatabaseFlags = protos.google.cloud.sql.v1.IDatabaseFlags;
type IMaintenanceWindow = protos.google.cloud.sql.v1.IMaintenanceWindow;
type IOperation = protos.google.cloud.sql.v1.IOperation;

const OperationType = protoEnum("sql", "google.cloud.sql.v1.Operation.SqlOperationType");
const InstanceState = protoEnum("sql", "google.cloud.sql.v1.DatabaseInstance.SqlInstanceState");
const ActivationPolicy = protoEnum("sql", "google.cloud.sql.v1.Settings.SqlActivationPolicy");
const DatabaseVersion = protoEnum("sql", "google.cloud.sql.v1.SqlDatabaseVersion");
const AvailabilityType = protoEnum("sql", "google.cloud.sql.v1.SqlAvailabilityType");
const UpdateTrack = protoEnum("sql", "google.cloud.sql.v1.SqlUpdateTrack");

/**
 * SQL_LIST_PAGE_SIZE is the `maxResults` capstan asks instances.list for: the API's own
 * default, "at most 500 instances are returned" when unspecified (SqlInstancesListRequest
 * in google/cloud/sql/v1/cloud_sql_instances.proto).
 */
export const SQL_LIST_PAGE_SIZE = 500;

/**
 * SQL_RESTART_DOWNTIME_SECONDS is how long clients lose the instance when a change
 * restarts it. Cloud SQL documents the interruption of a restart of an Enterprise edition
 * instance as typically under 60 seconds ("Maintenance impact",
 * https://cloud.google.com/sql/docs/postgres/maintenance); Enterprise Plus advertises
 * near-zero downtime for some planned operations
 * (https://cloud.google.com/sql/docs/postgres/availability), so this is the conservative
 * figure for both.
 */
export const SQL_RESTART_DOWNTIME_SECONDS = 60;

/**
 * SQL_DEFAULT_DATA_DISK_SIZE_GB is the disk size Cloud SQL reports when `dataDiskSizeGb`
 * is absent: "The data disk size minimum is 10GB" (Settings.data_disk_size_gb in
 * google/cloud/sql/v1/cloud_sql_resources.proto), which is also the size an instance
 * gets when created without one.
 */
export const SQL_DEFAULT_DATA_DISK_SIZE_GB = 10;

/** SqlInstanceWriteError is a change this reconciler refuses to write. */
export class SqlInstanceWriteError extends Error {
  /** `UNWRITABLE_FIELD`: the field is compared but never written (databaseVersion) or unknown. */
  readonly code: "UNWRITABLE_FIELD";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "SqlInstanceWriteError";
    this.code = "UNWRITABLE_FIELD";
  }
}

/** wrapped reads a google.protobuf wrapper (`{value}`), whose int64 values arrive as strings. */
function wrapped(w: { value?: unknown } | null | undefined): number | undefined {
  const v = w?.value;
  if (v === undefined || v === null || v === "") return undefined;
  const n = Number(typeof v === "object" ? String(v) : v);
  return Number.isFinite(n) ? n : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function instanceName(ref: Pick<ResourceRef, "project" | "id">): string {
  return names.sqlInstance.format({ project: ref.project, instance: ref.id });
}

/** OPERATIONS_PAGE bounds the operations read to find a running one; see {@link runningOperation}. */
const OPERATIONS_PAGE = 20;

/**
 * runningOperation returns the operation not yet DONE on an instance, if any. Cloud SQL
 * lists an instance's operations newest first ("in the reverse chronological order of
 * the start time", SqlOperationsService.List in cloud_sql_operations.proto) and runs one
 * at a time per instance, so a running one is at the head of the first page.
 */
async function runningOperation(
  gcp: Gcp,
  project: string,
  instance: string,
  signal?: AbortSignal,
  location?: string,
): Promise<IOperation | undefined> {
  const [list] = await gcp.call(
    {
      api: SQL_API,
      method: "operations.list",
      write: false,
      location,
      resource: instanceName({ project, id: instance }),
    },
    () =>
      gcp.clients.sql.operations.list({ project, instance, maxResults: OPERATIONS_PAGE }, gaxCallOptions()),
    signal,
  );
  return (list.items ?? []).find((op) => {
    const status = enumName(op.status, SQL_OPERATION_STATUS);
    return status === "PENDING" || status === "RUNNING";
  });
}

/**
 * pendingSqlOperation returns a poller for an operation already running on an instance
 * (started by capstan, a person or Google), or undefined when none is. Cloud SQL refuses a
 * second mutation with 409 operationInProgress while one runs, so the executor waits on
 * this instead of colliding with it.
 */
export async function pendingSqlOperation(
  gcp: Gcp,
  project: string,
  instance: string,
  signal?: AbortSignal,
  location?: string,
): Promise<OperationPoller | undefined> {
  const op = await runningOperation(gcp, project, instance, signal, location);
  return op?.name ? sqlOperationPoller(gcp, project, op.name, location) : undefined;
}

/**
 * readinessOf judges an instance by its state (SqlInstanceState in
 * cloud_sql_instances.proto), its activation policy and the operation running on it.
 * Cloud SQL keeps a restarting instance RUNNABLE, so the running operation is what
 * says a change is still being applied.
 */
function readinessOf(live: IDatabaseInstance, running: IOperation | undefined): Readiness {
  const state = enumName(live.state, InstanceState) ?? "SQL_INSTANCE_STATE_UNSPECIFIED";
  switch (state) {
    case "RUNNABLE":
      break;
    case "FAILED":
      return { ready: false, failed: true, reason: "instance is FAILED" };
    case "SUSPENDED":
      // Suspension is a billing or abuse hold (suspensionReason); waiting does not lift it.
      return {
        ready: false,
        failed: true,
        reason: `instance is SUSPENDED${live.suspensionReason?.length ? ` (${live.suspensionReason.join(", ")})` : ""}`,
      };
    case "PENDING_DELETE":
      return { ready: false, failed: true, reason: "instance is being deleted" };
    default:
      return { ready: false, reason: `instance is ${state}` };
  }
  // RUNNABLE also covers "stopped by owner" (activation policy NEVER): it serves nothing
  // until someone starts it, which capstan does not do.
  if (enumName(live.settings?.activationPolicy, ActivationPolicy) === "NEVER") {
    return { ready: false, failed: true, reason: "instance is stopped (activationPolicy NEVER)" };
  }
  if (running) {
    const type = enumName(running.operationType, OperationType) ?? "operation";
    const status = enumName(running.status, SQL_OPERATION_STATUS) ?? "";
    return {
      ready: false,
      reason: `${type} operation ${running.name ?? ""} is ${status}`.replace(/\s+/g, " "),
    };
  }
  return { ready: true };
}

/**
 * observe wraps a live instance. `withOperations` also reads its running operation for
 * readiness: a get after a write needs it, but a list must stay one call per page, so a
 * listed instance is judged by its state alone (the executor asks `pending` before it
 * writes anyway).
 */
async function observe(
  gcp: Gcp,
  live: IDatabaseInstance,
  withOperations: boolean,
  signal?: AbortSignal,
): Promise<Observed<IDatabaseInstance>> {
  const project = String(live.project ?? "");
  const id = String(live.name ?? "");
  const region = String(live.region || "global");
  const running = withOperations ? await runningOperation(gcp, project, id, signal, region) : undefined;
  const version = wrapped(live.settings?.settingsVersion);
  return {
    ref: { kind: "SqlInstance", project, location: region, id },
    name: instanceName({ project, id }),
    live,
    version: version === undefined ? undefined : String(version),
    readiness: readinessOf(live, running),
  };
}

/**
 * restartFields names the changed fields that restart the instance; a flag restarts it
 * when the catalog says so for the instance's database version.
 */
function restartFields(changes: readonly FieldChange[], live: IDatabaseInstance): FieldChange[] {
  const version = enumName(live.databaseVersion, DatabaseVersion);
  const restarts = (flag: string) => sqlFlagRequiresRestart(flag, version);
  return changes.filter((c) => {
    const [head, flag] = c.path;
    if (head === "tier" || head === "availabilityType") return true;
    if (head !== "databaseFlags") return false;
    if (typeof flag === "string") return restarts(flag);
    // A change of the whole map (never produced by the diff, which walks map entries) is
    // judged by every flag it names.
    return [c.before, c.after].some((m) => isRecord(m) && Object.keys(m).some(restarts));
  });
}

function describeChange(c: FieldChange): string {
  const [head, flag] = c.path;
  const show = (v: unknown) => (v === undefined || v === null ? "unset" : String(v));
  if (head === "databaseFlags" && typeof flag === "string") {
    if (c.after === null || c.after === undefined) return `removing ${flag}`;
    if (c.before === undefined || c.before === null) return `setting ${flag} to ${show(c.after)}`;
    return `changing ${flag} from ${show(c.before)} to ${show(c.after)}`;
  }
  return `changing ${c.field} from ${show(c.before)} to ${show(c.after)}`;
}

/** mergedFlags is the full flag list a patch must carry: live flags kept, named ones set or removed. */
function mergedFlags(
  live: readonly IDatabaseFlags[],
  set: ReadonlyMap<string, string | null>,
): IDatabaseFlags[] {
  const out: IDatabaseFlags[] = [];
  const seen = new Set<string>();
  for (const f of live) {
    const name = String(f.name ?? "");
    seen.add(name);
    if (!set.has(name)) {
      // Sent back exactly as read, so a flag capstan does not manage never changes.
      out.push(f.value === undefined || f.value === null ? { name } : { name, value: f.value });
      continue;
    }
    const value = set.get(name);
    if (value !== null && value !== undefined) out.push({ name, value });
  }
  for (const [name, value] of set) {
    if (!seen.has(name) && value !== null) out.push({ name, value });
  }
  return out;
}

/**
 * sqlInstanceReconciler manages Cloud SQL for PostgreSQL instances through the Cloud SQL
 * Admin API v1: tier, availability type, disk size, database flags and maintenance
 * window. The database version is compared (and a mismatch refused by `check`) but never
 * written. Writes are one `instances.patch` with `settings.settingsVersion` as the
 * precondition (412 staleData when someone changed the settings since they were read);
 * because a patch's `databaseFlags` replaces the whole list, the patch carries every live
 * flag with the managed ones merged in.
 */
export const sqlInstanceReconciler = {
  kind: "SqlInstance",
  diffOptions: {},

  scopeOf(ref: ResourceRef): Scope {
    // Instance names are unique per project and instances.list is per project.
    return { project: ref.project, location: "global" };
  },

  fullName(ref: ResourceRef): string {
    return instanceName(ref);
  },

  async list(gcp: Gcp, scope: Scope, signal?: AbortSignal): Promise<Observed<IDatabaseInstance>[]> {
    // A regional scope narrows the list server-side; the default global scope lists all.
    const filter = scope.location === "global" ? undefined : `region:${scope.location}`;
    const items = await listAllPages(
      gcp,
      // A project-wide call: Cloud SQL counts it in "global" (src/gcp/quotas.ts).
      {
        api: SQL_API,
        method: "instances.list",
        write: false,
        location: "global",
        resource: `projects/${scope.project}`,
      },
      async (page) => {
        // instances.list is no gax page stream: it answers one InstancesListResponse that
        // carries the items and the next page token.
        const [answer] = await gcp.clients.sql.instances.list(
          { project: scope.project, maxResults: SQL_LIST_PAGE_SIZE, ...(filter ? { filter } : {}), ...page },
          gaxCallOptions(),
        );
        return [answer.items ?? [], undefined, answer];
      },
      signal,
    );
    return Promise.all(items.map((live) => observe(gcp, live, false, signal)));
  },

  async get(
    gcp: Gcp,
    ref: ResourceRef,
    signal?: AbortSignal,
  ): Promise<Observed<IDatabaseInstance> | undefined> {
    // 404 instanceDoesNotExist: "The Cloud SQL instance does not exist."
    return getOrUndefined(async () => {
      const [live] = await gcp.call(
        {
          api: SQL_API,
          method: "instances.get",
          write: false,
          location: ref.location,
          resource: instanceName(ref),
        },
        () => gcp.clients.sql.instances.get({ project: ref.project, instance: ref.id }, gaxCallOptions()),
        signal,
      );
      return observe(gcp, live, true, signal);
    });
  },

  desired(resource: Resource<"SqlInstance">): Record<string, unknown> {
    const s: SqlInstanceSpec = resource.spec;
    const out: Record<string, unknown> = {};
    if (s.databaseVersion !== undefined) out["databaseVersion"] = s.databaseVersion;
    if (s.tier !== undefined) out["tier"] = s.tier;
    if (s.availabilityType !== undefined) out["availabilityType"] = s.availabilityType;
    if (s.dataDiskSizeGb !== undefined) out["dataDiskSizeGb"] = s.dataDiskSizeGb;
    if (s.databaseFlags !== undefined && Object.keys(s.databaseFlags).length > 0) {
      // null stays: it means "must not be set" and diffs against the live value.
      out["databaseFlags"] = { ...s.databaseFlags };
    }
    const mw = s.maintenanceWindow;
    if (mw !== undefined) {
      const window: Record<string, unknown> = {};
      if (mw.day !== undefined) window["day"] = mw.day;
      if (mw.hour !== undefined) window["hour"] = mw.hour;
      if (mw.updateTrack !== undefined) window["updateTrack"] = mw.updateTrack;
      if (Object.keys(window).length > 0) out["maintenanceWindow"] = window;
    }
    return out;
  },

  normalize(live: IDatabaseInstance): Record<string, unknown> {
    const settings: ISettings = live.settings ?? {};
    const out: Record<string, unknown> = {};
    const version = enumName(live.databaseVersion, DatabaseVersion);
    if (version !== undefined && version !== "SQL_DATABASE_VERSION_UNSPECIFIED")
      out["databaseVersion"] = version;
    if (settings.tier) out["tier"] = settings.tier;
    // Unspecified reads as ZONAL: an instance is zonal unless configured for HA
    // (SqlAvailabilityType in cloud_sql_resources.proto; "If you don't configure regional
    // availability for an instance, then the instance is configured for zonal
    // availability", https://cloud.google.com/sql/docs/postgres/availability).
    const availability = enumName(settings.availabilityType, AvailabilityType);
    out["availabilityType"] =
      availability === undefined || availability === "SQL_AVAILABILITY_TYPE_UNSPECIFIED"
        ? "ZONAL"
        : availability;
    out["dataDiskSizeGb"] = wrapped(settings.dataDiskSizeGb) ?? SQL_DEFAULT_DATA_DISK_SIZE_GB;
    // Flags absent live are absent here, so a spec's `null` shows as value -> null only
    // when the flag is actually set.
    const flags: Record<string, string> = {};
    for (const f of settings.databaseFlags ?? []) {
      if (f.name) flags[f.name] = f.value ?? "";
    }
    out["databaseFlags"] = flags;
    // Real Cloud SQL leaves settings.maintenanceWindow out when none is set
    // (test/fixtures/recorded/sql/instance-postgres-minimal.json); a day outside 1-7 (0, or
    // absent) is "any window", whose hour means nothing, so neither is stated. An
    // unspecified update track is the console's "Any" timing, which no spec value names
    // (https://cloud.google.com/sql/docs/postgres/set-maintenance-window). What remains is
    // what a spec can say; nothing remaining leaves the window out, so a spec's window
    // shows every field it states as new.
    const mw: IMaintenanceWindow = settings.maintenanceWindow ?? {};
    const day = wrapped(mw.day);
    const track = enumName(mw.updateTrack, UpdateTrack);
    const window: Record<string, unknown> = {};
    if (day !== undefined && day >= 1 && day <= 7) {
      window["day"] = day;
      window["hour"] = wrapped(mw.hour) ?? 0;
    }
    if (track !== undefined && track !== "SQL_UPDATE_TRACK_UNSPECIFIED") window["updateTrack"] = track;
    if (Object.keys(window).length > 0) out["maintenanceWindow"] = window;
    return out;
  },

  disruptions(
    changes: readonly FieldChange[],
    observed: Observed<IDatabaseInstance>,
    _resource: Resource<"SqlInstance">,
  ): Disruption[] {
    const restarting = restartFields(changes, observed.live);
    if (restarting.length === 0) return [];
    // All changes go in one patch, so they cost one restart. The tier ("WARNING: Changing
    // this restarts the instance", Settings.tier in cloud_sql_resources.proto), flags whose
    // "Restart required" column says yes (https://cloud.google.com/sql/docs/postgres/flags),
    // and the availability type, which moves the instance onto a regional disk with a
    // standby zone (https://cloud.google.com/sql/docs/postgres/configure-ha; zone changes
    // "might restart the instance", LocationPreference in the same proto).
    return [
      {
        kind: "restart",
        reason: `${restarting.map(describeChange).join(", ")} restarts the instance; open connections are dropped`,
        fields: restarting.map((c) => c.field),
        expectedDowntimeSeconds: SQL_RESTART_DOWNTIME_SECONDS,
      },
    ];
  },

  async write(
    gcp: Gcp,
    observed: Observed<IDatabaseInstance>,
    _resource: Resource<"SqlInstance">,
    changes: readonly FieldChange[],
    options: { validateOnly?: boolean; signal?: AbortSignal | undefined } = {},
  ): Promise<WriteResult> {
    // instances.patch has no validate-only mode.
    if (options.validateOnly) return { poller: undefined, validated: false };
    const live = observed.live;
    const liveSettings: ISettings = live.settings ?? {};
    const settings: ISettings = {};
    const flags = new Map<string, string | null>();
    let window: Record<string, unknown> | undefined;
    for (const c of changes) {
      const [head, sub] = c.path;
      switch (head) {
        case "tier":
          settings.tier = String(c.after);
          break;
        case "availabilityType":
          settings.availabilityType = c.after as ISettings["availabilityType"];
          break;
        case "dataDiskSizeGb":
          settings.dataDiskSizeGb = { value: Number(c.after) };
          break;
        case "databaseFlags":
          if (typeof sub === "string")
            flags.set(sub, c.after === null || c.after === undefined ? null : String(c.after));
          else if (isRecord(c.after)) {
            for (const [k, v] of Object.entries(c.after))
              flags.set(k, v === null || v === undefined ? null : String(v));
          }
          break;
        case "maintenanceWindow":
          window ??= {};
          if (typeof sub === "string") window[sub] = c.after;
          else if (isRecord(c.after)) Object.assign(window, c.after);
          break;
        case "databaseVersion":
          throw new SqlInstanceWriteError(
            `could not update ${observed.name}: capstan never changes databaseVersion (${String(c.before)} live, ${String(c.after)} wanted); upgrade the instance yourself`,
          );
        default:
          throw new SqlInstanceWriteError(
            `could not update ${observed.name}: ${c.field} is not a field capstan writes`,
          );
      }
    }
    if (flags.size > 0) {
      // A patch's databaseFlags replaces every flag ("This command overwrites all database
      // flags previously set", https://cloud.google.com/sql/docs/postgres/flags), so it
      // carries the whole list. An empty list, sent as such, clears them all.
      settings.databaseFlags = mergedFlags(liveSettings.databaseFlags ?? [], flags);
    }
    if (window) {
      // The window goes as a whole, filled from live, so a patch that replaced the nested
      // message rather than merging it would still keep the parts not being changed. Day 0
      // is "no window": its hour means nothing, so neither is sent back.
      const mw = liveSettings.maintenanceWindow ?? {};
      const day = wrapped(mw.day);
      const track = enumName(mw.updateTrack, UpdateTrack);
      const next: IMaintenanceWindow = {};
      if (day !== undefined && day >= 1 && day <= 7) {
        next.day = { value: day };
        next.hour = { value: wrapped(mw.hour) ?? 0 };
      }
      if (track !== undefined && track !== "SQL_UPDATE_TRACK_UNSPECIFIED") {
        next.updateTrack = track as IMaintenanceWindow["updateTrack"];
      }
      if (window["day"] !== undefined) next.day = { value: Number(window["day"]) };
      if (window["hour"] !== undefined) next.hour = { value: Number(window["hour"]) };
      if (window["updateTrack"] !== undefined) {
        next.updateTrack = window["updateTrack"] as IMaintenanceWindow["updateTrack"];
      }
      settings.maintenanceWindow = next;
    }
    // The precondition: Cloud SQL refuses a stale settingsVersion with 412 staleData
    // (Settings.settings_version in cloud_sql_resources.proto).
    if (observed.version !== undefined) settings.settingsVersion = { value: observed.version };
    const project = observed.ref.project;
    const instance = observed.ref.id;
    const location = observed.ref.location;
    const [op] = await gcp.call(
      { api: SQL_API, method: "instances.patch", write: true, location, resource: observed.name },
      () => gcp.clients.sql.instances.patch({ project, instance, body: { settings } }, gaxCallOptions()),
      options.signal,
    );
    return { poller: op.name ? sqlOperationPoller(gcp, project, op.name, location) : undefined };
  },

  maintenanceWindow(resource: Resource<"SqlInstance">): MaintenanceWindow | undefined {
    return resource.spec.maintenanceWindow;
  },
  pending(gcp: Gcp, ref: ResourceRef, signal?: AbortSignal): Promise<OperationPoller | undefined> {
    return pendingSqlOperation(gcp, ref.project, ref.id, signal, ref.location);
  },

  async check(
    gcp: Gcp,
    resource: Resource<"SqlInstance">,
    observed: Observed<IDatabaseInstance>,
    changes: readonly FieldChange[],
  ): Promise<CheckResult> {
    const live = sqlInstanceReconciler.normalize(observed.live) as LiveSpecOf<"SqlInstance">;
    const spec = resource.spec;
    const notes: string[] = [];
    // Flags are judged by the live flags.list of the instance's version where it can be
    // read, the committed snapshot otherwise.
    let sqlFlags: SqlFlagCatalog | undefined;
    const version = spec.databaseVersion ?? live.databaseVersion;
    if (spec.databaseFlags && Object.keys(spec.databaseFlags).length > 0 && version) {
      const read = await liveSqlFlags(gcp, version);
      sqlFlags = read.catalog;
      if (read.note) notes.push(read.note);
    }
    // The rules shared with the offline validator: a databaseVersion mismatch, a disk that
    // would shrink, flag ranges at the live tier, and a tier or restart flag change
    // without allowRestart.
    const problems = checkAgainstLive(resource, live, { sqlFlags }).problems.map((p) => p.message);
    const availability = changes.find((c) => c.path[0] === "availabilityType");
    if (availability && !spec.allowRestart) {
      problems.push(
        `changing availabilityType from ${String(availability.before)} to ${String(availability.after)} requires a restart; set spec.allowRestart: true to consent (open connections are dropped)`,
      );
    }
    const restarting = restartFields(changes, observed.live);
    if (restarting.length > 0 && spec.maintenanceWindow !== undefined) {
      // Cloud SQL applies a settings change, and its restart, when the patch runs; the
      // maintenance window only schedules Google's own maintenance updates
      // (https://cloud.google.com/sql/docs/postgres/maintenance).
      const mw = live.maintenanceWindow;
      const when =
        mw?.day !== undefined && mw.day >= 1 && mw.day <= 7
          ? ` (${["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][mw.day - 1]} ${String(mw.hour ?? 0).padStart(2, "0")}:00 UTC)`
          : "";
      notes.push(
        `the restart for ${restarting.map((c) => c.field).join(", ")} happens when capstan applies it, not in the maintenance window${when}: Cloud SQL restarts at once for setting changes; the window only schedules Google's maintenance`,
      );
    }
    return { problems, notes };
  },
} satisfies Reconciler<"SqlInstance", IDatabaseInstance>;
