import type protobuf from "protobufjs";
import { checkSqlTier } from "../../gcp/catalog/sql.ts";
import { names } from "../../gcp/names.ts";
import { Encoded, encode, normalize, rejectUnknownFields } from "../core/codec.ts";
import { SimError } from "../core/errors.ts";
import { paginate } from "../core/paging.ts";
import { loadRoot } from "../core/protos.ts";
import type { EditRequest, JsonObject, SimContext, SimRequest } from "../core/types.ts";
import type { SqlFlags } from "./flags.ts";
import { SQL_API_BASE, type SqlOperations, sqlError } from "./operations.ts";

/**
 * Default durations, in GCP seconds, overridable per fixture (`durations: {sql.update: 20}`).
 * A settings change that needs no restart is applied online in tens of seconds; one that
 * restarts PostgreSQL (a tier change, or a flag whose "Restart required" column says yes,
 * https://cloud.google.com/sql/docs/postgres/flags) takes minutes.
 */
export const SQL_DURATIONS = { update: 30, restart: 180 } as const;

/** SqlInstancesSection is the `sql.instances` fixture list: DatabaseInstance JSON, partial. */
export type SqlInstancesSection = readonly JsonObject[];

interface Instance {
  json: JsonObject;
  /** False while a restart keeps PostgreSQL from accepting connections. */
  serving: boolean;
}

type SettingsChange = (current: JsonObject) => JsonObject;

const INSTANCE_TYPE = "google.cloud.sql.v1.DatabaseInstance";

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/**
 * shown is an instance as Cloud SQL prints it: its proto3 JSON, plus the
 * two repeated fields Cloud SQL prints as `[]` when empty (proto3 JSON leaves empty lists
 * out, https://protobuf.dev/programming-guides/json/): `settings.authorizedGaeApplications`
 * and `settings.ipConfiguration.authorizedNetworks`, which every recorded instance carries
 * empty (test/fixtures/recorded/sql/instance-*.json), while it leaves an empty
 * `databaseFlags` out (instance-postgres-minimal.json).
 */
function shown(type: protobuf.Type, json: JsonObject): Encoded {
  return new Encoded((numericEnums) => withEmptyLists(encode(type, json, numericEnums)));
}

function withEmptyLists(out: JsonObject): JsonObject {
  const settings = out["settings"] as JsonObject | undefined;
  if (settings) {
    settings["authorizedGaeApplications"] ??= [];
    const ip = settings["ipConfiguration"] as JsonObject | undefined;
    if (ip) ip["authorizedNetworks"] ??= [];
  }
  return out;
}

/**
 * mergePatch applies patch semantics to proto3 JSON: messages and maps merge field by
 * field, a `null` clears a field or map key, and a repeated field in the patch replaces
 * the whole list. The last rule is why `settings.databaseFlags` in a patch replaces every
 * flag: "This command overwrites all database flags previously set. To keep those and add
 * new ones, include the values for all flags you want set on the instance"
 * (https://cloud.google.com/sql/docs/postgres/flags#set_a_database_flag; the API's PATCH
 * behaves as `gcloud sql instances patch --database-flags`, which sends that list).
 */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = clone(target);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(out[k])) out[k] = mergePatch(out[k] as JsonObject, v);
    else out[k] = clone(v);
  }
  return out;
}

function flagMap(settings: JsonObject): Map<string, string> {
  const flags = (settings["databaseFlags"] ?? []) as JsonObject[];
  return new Map(flags.map((f) => [String(f["name"]), String(f["value"] ?? "")]));
}

/** needsRestart says whether going from one settings object to another restarts PostgreSQL. */
function needsRestart(before: JsonObject, after: JsonObject, restarts: (flag: string) => boolean): boolean {
  // Changing the machine type restarts the instance (the settings table of
  // https://cloud.google.com/sql/docs/postgres/edit-instance marks it as restarting).
  if (before["tier"] !== after["tier"]) return true;
  const a = flagMap(before);
  const b = flagMap(after);
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(name) !== b.get(name) && restarts(name)) return true;
  }
  return false;
}

/** settingsDiffer compares the user-settable part of two settings objects. */
function settingsDiffer(a: JsonObject, b: JsonObject): boolean {
  const strip = (s: JsonObject) => {
    const { settingsVersion: _v, ...rest } = s;
    return JSON.stringify(sortKeys(rest));
  };
  return strip(a) !== strip(b);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObject(v)) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys(v[k])]),
  );
}

/**
 * settingsDefaults fills the server-side defaults of `Settings` that Cloud SQL reports
 * for a PostgreSQL Enterprise instance, as recorded against real GCP in
 * mockgcp/mocksql/testdata/instance/postgres/_http.log (k8s-config-connector) and the
 * field docs of google/cloud/sql/v1/cloud_sql_resources.proto.
 */
function settingsDefaults(region: string): JsonObject {
  return {
    kind: "sql#settings",
    settingsVersion: "1",
    tier: "db-custom-2-7680",
    edition: "ENTERPRISE",
    availabilityType: "ZONAL",
    activationPolicy: "ALWAYS",
    pricingPlan: "PER_USE",
    dataDiskType: "PD_SSD",
    dataDiskSizeGb: "10",
    storageAutoResize: true,
    storageAutoResizeLimit: "0",
    connectorEnforcement: "NOT_REQUIRED",
    deletionProtectionEnabled: false,
    userLabels: {},
    databaseFlags: [],
    ipConfiguration: {
      ipv4Enabled: true,
      requireSsl: false,
      sslMode: "ALLOW_UNENCRYPTED_AND_ENCRYPTED",
      authorizedNetworks: [],
    },
    locationPreference: { kind: "sql#locationPreference", zone: `${region}-a` },
    backupConfiguration: {
      kind: "sql#backupConfiguration",
      enabled: false,
      startTime: "12:00",
      backupRetentionSettings: { retentionUnit: "COUNT", retainedBackups: 7 },
      transactionLogRetentionDays: 7,
    },
    // No maintenanceWindow: real instances without one leave it out
    // (test/fixtures/recorded/sql/instance-postgres-minimal.json); one set carries its kind
    // (recorded/sql/instance-maintenancewindow.json), see withWindowKind.
  };
}

/** withWindowKind gives a maintenance window that was set the `kind` Cloud SQL reports with it. */
function withWindowKind(settings: JsonObject): JsonObject {
  const mw = settings["maintenanceWindow"];
  if (!isObject(mw) || mw["kind"]) return settings;
  return { ...settings, maintenanceWindow: { kind: "sql#maintenanceWindow", ...mw } };
}

/**
 * SqlInstances is the instance store of the simulated Cloud SQL Admin API v1
 * (https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/instances): list, get,
 * patch, update (PUT) and restart, one operation at a time per instance.
 */
export class SqlInstances {
  readonly #ctx: SimContext;
  readonly #ops: SqlOperations;
  readonly #flags: SqlFlags;
  readonly #type = loadRoot("sql").lookupType(INSTANCE_TYPE);
  #items = new Map<string, Instance>();
  #ipSeq = 0;

  constructor(ctx: SimContext, ops: SqlOperations, flags: SqlFlags) {
    this.#ctx = ctx;
    this.#ops = ops;
    this.#flags = flags;
  }

  /** load replaces every instance with the fixture's, filling server-side defaults. */
  load(section: SqlInstancesSection | undefined): void {
    this.#items = new Map();
    this.#ipSeq = 0;
    for (const raw of section ?? []) {
      const input = { ...raw };
      const full = typeof input["name"] === "string" ? names.sqlInstance.parse(input["name"]) : undefined;
      if (full) {
        input["project"] ??= full.project;
        input["name"] = full.instance;
      }
      if (typeof input["project"] !== "string" || typeof input["name"] !== "string") {
        throw new TypeError(
          "sql: every instance needs `project` and `name` (or name `projects/<p>/instances/<i>`)",
        );
      }
      try {
        rejectUnknownFields(this.#type, input, "");
      } catch (err) {
        throw new TypeError(`sql: instance \`${input["name"]}\`: ${(err as Error).message}`);
      }
      const json = this.#withDefaults(normalize(this.#type, input));
      const settings = json["settings"] as JsonObject;
      const tierProblem = checkSqlTier(String(settings["tier"]));
      if (tierProblem) throw new TypeError(`sql: instance \`${json["name"]}\`: ${tierProblem}`);
      try {
        this.#flags.validate(
          (settings["databaseFlags"] ?? []) as JsonObject[],
          json["databaseVersion"] as string,
          settings["tier"] as string,
        );
      } catch (err) {
        throw new TypeError(`sql: instance \`${json["name"]}\`: ${(err as Error).message}`);
      }
      this.#items.set(`${json["project"]}/${json["name"]}`, { json, serving: true });
    }
  }

  /** dump returns every instance as the API shows it, reloadable by {@link load}. */
  dump(): JsonObject[] {
    return [...this.#items.values()].map((i) => clone(i.json));
  }

  /** serving says whether an instance accepts connections (false while it restarts). */
  serving(project: string, instance: string): boolean {
    return this.#items.get(`${project}/${instance}`)?.serving ?? false;
  }

  /** regionOf is an instance's region, undefined for one that does not exist. */
  regionOf(project: string, instance: string): string | undefined {
    const region = this.#items.get(`${project}/${instance}`)?.json["region"];
    return typeof region === "string" ? region : undefined;
  }

  /** status reports an instance's state, whether it serves, and its running operation. */
  status(project: string, instance: string): JsonObject {
    const i = this.#find(project, instance);
    return {
      state: i.json["state"],
      serving: i.serving,
      operation: this.#ops.running(project, instance) ?? null,
      settingsVersion: (i.json["settings"] as JsonObject)["settingsVersion"],
    };
  }

  /**
   * list answers instances.list for one project. Paging is `maxResults` (default 500,
   * larger values coerced to 1000) and `pageToken`, per SqlInstancesListRequest in
   * google/cloud/sql/v1/cloud_sql_instances.proto.
   */
  list(req: SimRequest): Encoded {
    const project = String(req.body["project"]);
    const filter = parseFilter(String(req.body["filter"] ?? ""));
    const all = [...this.#items.values()]
      .filter((i) => i.json["project"] === project)
      .map((i) => i.json)
      .filter(filter)
      .sort((a, b) => String(a["name"]).localeCompare(String(b["name"])));
    const page = paginate(all, req.body["maxResults"], (req.body["pageToken"] as string) || undefined, {
      defaultSize: 500,
      maxSize: 1000,
    });
    const items = page.items.map((j) => shown(this.#type, j));
    return new Encoded((numericEnums) => ({
      kind: "sql#instancesList",
      ...(items.length ? { items: items.map((i) => i.render(numericEnums)) } : {}),
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    }));
  }

  /** get answers instances.get. */
  get(req: SimRequest): Encoded {
    return shown(this.#type, this.#find(String(req.body["project"]), String(req.body["instance"])).json);
  }

  /**
   * patch answers instances.patch: the body's settings are merged into the current ones
   * (see {@link mergePatch}); the change is applied when the UPDATE operation ends.
   */
  patch(req: SimRequest): JsonObject {
    const body = (req.body["body"] ?? {}) as JsonObject;
    const patch = this.#settingsOf(body);
    return this.#change(req, body, (current) => {
      const { settingsVersion: _v, kind: _k, ...settable } = patch;
      return mergePatch(current, settable);
    });
  }

  /**
   * update answers instances.update (PUT): the body's settings replace the current ones,
   * fields left out falling back to their defaults. The tier is kept when the body omits
   * it: the API documents it as required on update
   * (https://cloud.google.com/sql/docs/postgres/admin-api/v1beta4/instances/update).
   */
  update(req: SimRequest): JsonObject {
    const body = (req.body["body"] ?? {}) as JsonObject;
    const given = this.#settingsOf(body);
    const region = String(
      this.#find(String(req.body["project"]), String(req.body["instance"])).json["region"],
    );
    return this.#change(req, body, (current) => {
      const { settingsVersion: _v, kind: _k, ...settable } = given;
      const next = mergePatch(settingsDefaults(region), settable);
      next["tier"] = settable["tier"] ?? current["tier"];
      next["settingsVersion"] = current["settingsVersion"];
      return next;
    });
  }

  /**
   * restart answers instances.restart: a RESTART operation during which PostgreSQL does
   * not accept connections.
   */
  restart(req: SimRequest): JsonObject {
    const project = String(req.body["project"]);
    const name = String(req.body["instance"]);
    const inst = this.#find(project, name);
    this.#refuseIfBusy(project, name);
    inst.serving = false;
    return this.#ops.start({
      project,
      instance: name,
      operationType: "RESTART",
      durationSeconds: this.#ctx.durationOf("sql.restart", SQL_DURATIONS.restart),
      fault: req.takeOperationFault(),
      finish: () => {
        inst.serving = true;
      },
    });
  }

  /**
   * edit applies an out-of-band change, as made in the console: `patch.settings` merges
   * into the settings, except `databaseFlags`, which are set by name (a `null` value
   * removes the flag); other top-level fields merge. A settings change bumps
   * settingsVersion and the etag, as any accepted update does.
   */
  edit(req: EditRequest): JsonObject {
    const n = names.sqlInstance.parse(req.name);
    if (!n)
      throw new TypeError(`sql: expected instance name projects/<p>/instances/<i>, got \`${req.name}\``);
    const inst = this.#find(n.project, n.instance);
    const { settings: settingsPatch, ...rest } = req.patch;
    let json = mergePatch(inst.json, rest);
    if (isObject(settingsPatch)) {
      const { databaseFlags, ...others } = settingsPatch;
      const current = json["settings"] as JsonObject;
      let next = mergePatch(current, others);
      if (Array.isArray(databaseFlags)) {
        const flags = flagMap(current);
        for (const f of databaseFlags as JsonObject[]) {
          if (f["value"] === null) flags.delete(String(f["name"]));
          else flags.set(String(f["name"]), String(f["value"] ?? ""));
        }
        next = { ...next, databaseFlags: [...flags].map(([name, value]) => ({ name, value })) };
      }
      this.#flags.validate(
        next["databaseFlags"] as JsonObject[],
        json["databaseVersion"] as string,
        next["tier"] as string,
      );
      next["settingsVersion"] = String(Number(current["settingsVersion"] ?? 0) + 1);
      json = { ...json, settings: next };
    }
    inst.json = normalize(this.#type, { ...json, etag: this.#etag() });
    return clone(inst.json);
  }

  #change(req: SimRequest, body: JsonObject, apply: SettingsChange): JsonObject {
    const project = String(req.body["project"]);
    const name = String(req.body["instance"]);
    const inst = this.#find(project, name);
    this.#refuseIfBusy(project, name);
    const current = inst.json["settings"] as JsonObject;
    const given = (body["settings"] as JsonObject | undefined)?.["settingsVersion"];
    if (given !== undefined && given !== null && String(given) !== String(current["settingsVersion"])) {
      // Optimistic concurrency on settingsVersion: a stale version is refused with
      // 412 "Condition does not match." / staleData
      // (https://github.com/hashicorp/terraform-provider-google/issues/12324,
      // https://github.com/hashicorp/terraform-provider-google/issues/25246).
      throw sqlError("Condition does not match.", {
        status: "FAILED_PRECONDITION",
        httpCode: 412,
        reason: "staleData",
      });
    }
    if (
      body["databaseVersion"] !== undefined &&
      normalize(this.#type, { databaseVersion: body["databaseVersion"] })["databaseVersion"] !==
        inst.json["databaseVersion"]
    ) {
      throw new SimError("Major version upgrades are not simulated.", { status: "UNIMPLEMENTED" });
    }
    const next = withWindowKind(apply(current));
    const tier = String(next["tier"]);
    if (checkSqlTier(tier)) {
      // The wording Cloud SQL uses for a tier it does not offer, as recorded in
      // mockgcp/mocksql/sqlinstance.go (validateDatabaseInstance).
      throw sqlError(
        `Invalid request: Invalid Tier (${tier}) for (${next["edition"] ?? "ENTERPRISE"}) Edition.`,
        {
          status: "INVALID_ARGUMENT",
          reason: "invalid",
        },
      );
    }
    this.#flags.validate(
      (next["databaseFlags"] ?? []) as JsonObject[],
      inst.json["databaseVersion"] as string,
      tier,
    );
    const version = inst.json["databaseVersion"] as string | undefined;
    const restart = needsRestart(current, next, (flag) => this.#flags.requiresRestart(flag, version));
    // The instance keeps state RUNNABLE while it restarts: the REST `state` reports the
    // serving state and is not moved to MAINTENANCE (reserved for Google's maintenance)
    // by user operations; tools derive transient states from operations and settings
    // (https://github.com/googleapis/google-api-java-client-services/issues/18426,
    // https://github.com/googleapis/google-api-go-client/issues/394). Connections fail
    // meanwhile, which `serving` records for the load model.
    if (restart) inst.serving = false;
    return this.#ops.start({
      project,
      instance: name,
      operationType: "UPDATE",
      durationSeconds: restart
        ? this.#ctx.durationOf("sql.restart", SQL_DURATIONS.restart)
        : this.#ctx.durationOf("sql.update", SQL_DURATIONS.update),
      fault: req.takeOperationFault(),
      finish: (error) => {
        inst.serving = true;
        // A failed operation leaves the settings as they were.
        if (error) return;
        const before = inst.json["settings"] as JsonObject;
        const after = apply(before);
        if (!settingsDiffer(before, after)) return;
        after["settingsVersion"] = String(Number(before["settingsVersion"] ?? 0) + 1);
        inst.json = normalize(this.#type, { ...inst.json, settings: after, etag: this.#etag() });
      },
    });
  }

  #settingsOf(body: JsonObject): JsonObject {
    const raw = body["settings"];
    if (!isObject(raw)) return {};
    const settings = normalize(this.#type, { settings: raw })["settings"] as JsonObject | undefined;
    const out: JsonObject = { ...(settings ?? {}) };
    // proto3 JSON drops an empty list, but `"databaseFlags": []` in a patch body means
    // "clear every flag", so keep it when the caller sent it.
    const flagsKey =
      "databaseFlags" in raw ? "databaseFlags" : "database_flags" in raw ? "database_flags" : "";
    if (flagsKey && Array.isArray(raw[flagsKey])) out["databaseFlags"] ??= [];
    return out;
  }

  #refuseIfBusy(project: string, instance: string): void {
    if (this.#ops.running(project, instance)) {
      // Cloud SQL runs one operation at a time per instance and refuses the next with
      // 409 operationInProgress (https://github.com/crossplane-contrib/provider-gcp/issues/121,
      // https://github.com/GoogleCloudPlatform/gcp-service-broker/issues/222).
      throw sqlError("Operation failed because another operation was already in progress.", {
        status: "ABORTED",
        reason: "operationInProgress",
      });
    }
  }

  #find(project: string, instance: string): Instance {
    const i = this.#items.get(`${project}/${instance}`);
    // gcloud shows GCP's answer for a missing instance as
    // "HTTPError 404: The Cloud SQL instance does not exist.".
    if (!i) {
      throw sqlError("The Cloud SQL instance does not exist.", {
        status: "NOT_FOUND",
        reason: "instanceDoesNotExist",
      });
    }
    return i;
  }

  #etag(): string {
    // The instance etag is deprecated in favour of settingsVersion, but still returned.
    return Buffer.from(this.#ctx.nextId("sqletag")).toString("base64");
  }

  #withDefaults(input: JsonObject): JsonObject {
    const project = String(input["project"]);
    const name = String(input["name"]);
    const region = String(input["region"] ?? "us-central1");
    const settings = withWindowKind(
      mergePatch(settingsDefaults(region), (input["settings"] ?? {}) as JsonObject),
    );
    const ipConfig = settings["ipConfiguration"] as JsonObject;
    const n = ++this.#ipSeq;
    const ips: JsonObject[] = [];
    if (ipConfig["ipv4Enabled"] !== false) ips.push({ type: "PRIMARY", ipAddress: `203.0.113.${n}` });
    if (ipConfig["privateNetwork"]) ips.push({ type: "PRIVATE", ipAddress: `10.20.0.${n}` });
    const zone = String(
      (settings["locationPreference"] as JsonObject | undefined)?.["zone"] ?? `${region}-a`,
    );
    const json: JsonObject = {
      kind: "sql#instance",
      state: "RUNNABLE",
      databaseVersion: "POSTGRES_15",
      region,
      gceZone: zone,
      instanceType: "CLOUD_SQL_INSTANCE",
      backendType: "SECOND_GEN",
      sqlNetworkArchitecture: "NEW_NETWORK_ARCHITECTURE",
      createTime: this.#ctx.nowIso(),
      ipAddresses: ips,
      ...input,
      project,
      name,
      settings,
      connectionName: `${project}:${region}:${name}`,
      selfLink: `${SQL_API_BASE}/projects/${project}/instances/${name}`,
      etag: input["etag"] ?? this.#etag(),
    };
    return normalize(this.#type, json);
  }
}

/**
 * parseFilter supports the common form of instances.list `filter`: space-separated
 * `field:value` terms over the JSON representation, all of which must match (explicit
 * `AND` allowed), e.g. `state:RUNNABLE settings.userLabels.env:prod`
 * (SqlInstancesListRequest.filter). OR, NOT and parentheses are not simulated.
 */
function parseFilter(filter: string): (json: JsonObject) => boolean {
  const terms = filter.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  const checks: ((json: JsonObject) => boolean)[] = [];
  for (const term of terms) {
    if (term === "AND") continue;
    const colon = term.indexOf(":");
    if (term === "OR" || term === "NOT" || term.startsWith("-") || term.includes("(") || colon <= 0) {
      throw new SimError(
        `The simulator supports only space-separated field:value filters, got \`${filter}\`.`,
        {
          status: "UNIMPLEMENTED",
        },
      );
    }
    const path = term.slice(0, colon).split(".");
    const want = term.slice(colon + 1).replace(/^"|"$/g, "");
    checks.push((json) => {
      let v: unknown = json;
      for (const p of path) v = isObject(v) ? v[p] : undefined;
      return v !== undefined && String(v).toLowerCase() === want.toLowerCase();
    });
  }
  return (json) => checks.every((c) => c(json));
}
