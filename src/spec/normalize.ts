/**
 * From a schema-valid document to the typed spec: units become numbers, references
 * become {@link Ref}s, the env map becomes a list. Nothing unstated is filled in, except
 * capstan's own settings (consents default to false, policy knobs to documented defaults),
 * because a spec manages only the fields it states.
 */
import type { SpecIndex } from "./references.ts";
import {
  type AnyResource,
  type Backend,
  type BackendServiceSpec,
  type CapacityMember,
  type CapacityPolicySpec,
  type CloudRunServiceSpec,
  type EnvVar,
  type FieldPath,
  type GateSpec,
  type HealthCheckSpec,
  type Issue,
  type Kind,
  type ProbeSpec,
  pointer,
  type Ref,
  type RevisionTemplateSpec,
  type ScalingSpec,
  type SourceMap,
  type SpecByKind,
  type SpecMetadata,
  type SqlInstanceSpec,
  segmentsOf,
  type VpcConnectorSpec,
} from "./types.ts";
import { parseCpu, parseDuration, parseMemory } from "./units.ts";
import { displayPath as show } from "./validate.ts";

/** Raw is a schema-valid YAML mapping, as plain JS. */
type Raw = Readonly<Record<string, unknown>>;

/** NormalizeContext is what normalising one document needs from the rest of the set. */
export interface NormalizeContext {
  readonly metadata: SpecMetadata;
  readonly index: SpecIndex;
  readonly source: SourceMap;
  /** Already normalised resources by id; CapacityPolicy reads its members' specs from it. */
  readonly resources: ReadonlyMap<string, AnyResource>;
  /** Problems found while normalising are pushed here. */
  readonly issues: Issue[];
}

/** POLICY_DEFAULTS are the CapacityPolicy settings used when a policy leaves them out. */
export const POLICY_DEFAULTS = {
  reservedConnections: 0,
  sqlCeiling: 0.8,
  connectorCeiling: 0.8,
  maxStepFactor: 2,
  settleTimeSeconds: 300,
  gateFailureLimit: 3,
  gateWindowSeconds: 60,
} as const;

const DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];

/** normalizeSpec builds the typed spec of one document of `kind` from its schema-valid `spec`. */
export function normalizeSpec<K extends Kind>(kind: K, spec: Raw, ctx: NormalizeContext): SpecByKind[K] {
  const n = new Normalizer(ctx);
  const at = pointer("spec");
  const out = {
    VpcConnector: () => n.connector(spec),
    SqlInstance: () => n.sql(spec),
    HealthCheck: () => n.healthCheck(spec),
    BackendService: () => n.backendService(spec, at),
    CloudRunService: () => n.cloudRun(spec, at),
    CapacityPolicy: () => n.policy(spec, at),
  }[kind]();
  return out as SpecByKind[K];
}

function obj(v: unknown): Raw | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Raw) : undefined;
}

/**
 * defined drops keys whose value is undefined, so an unstated field is absent rather than
 * present-and-undefined: diff and `Object.keys` then see exactly what the spec states.
 */
function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o))
    if ((o as Record<string, unknown>)[k] === undefined) delete (o as Record<string, unknown>)[k];
  return o;
}

class Normalizer {
  readonly #ctx: NormalizeContext;

  constructor(ctx: NormalizeContext) {
    this.#ctx = ctx;
  }

  #issue(path: FieldPath, message: string): void {
    this.#ctx.issues.push({ path, message });
  }

  #duration(v: unknown, path: FieldPath, whole: boolean): number | undefined {
    if (v === undefined) return undefined;
    const s = parseDuration(v);
    if (s === undefined) {
      this.#issue(
        path,
        `${show(path)}: must be a duration such as \`90s\`, \`5m\` or \`1h30m\`; got ${JSON.stringify(v)}`,
      );
      return undefined;
    }
    if (whole && !Number.isInteger(s)) {
      this.#issue(path, `${show(path)}: must be a whole number of seconds; got ${JSON.stringify(v)}`);
      return undefined;
    }
    return s;
  }

  #ref<K extends Kind>(
    kind: K,
    v: unknown,
    path: FieldPath,
    options: { region?: string | undefined; managedOnly?: boolean } = {},
  ): Ref<K> | undefined {
    if (typeof v !== "string") return undefined;
    const result = this.#ctx.index.resolve(kind, v, this.#ctx.metadata, options);
    if ("error" in result) {
      this.#issue(path, `${show(path)}: ${result.error}`);
      return undefined;
    }
    return result.ref;
  }

  connector(s: Raw): VpcConnectorSpec {
    const subnet = obj(s["subnet"]);
    return defined({
      machineType: s["machineType"] as string | undefined,
      minInstances: s["minInstances"] as number | undefined,
      maxInstances: s["maxInstances"] as number | undefined,
      network: s["network"] as string | undefined,
      ipCidrRange: s["ipCidrRange"] as string | undefined,
      subnet:
        subnet &&
        defined({ name: subnet["name"] as string, projectId: subnet["projectId"] as string | undefined }),
      allowReplacement: (s["allowReplacement"] as boolean | undefined) ?? false,
    });
  }

  sql(s: Raw): SqlInstanceSpec {
    const flags = obj(s["databaseFlags"]);
    const mw = obj(s["maintenanceWindow"]);
    let databaseFlags: Record<string, string | null> | undefined;
    if (flags) {
      databaseFlags = {};
      for (const [name, value] of Object.entries(flags)) {
        // Cloud SQL carries every flag value as a string, booleans as on/off
        // (google/cloud/sql/v1/cloud_sql_resources.proto, DatabaseFlags.value).
        databaseFlags[name] =
          value === null ? null : typeof value === "boolean" ? (value ? "on" : "off") : String(value);
      }
    }
    const day = mw?.["day"];
    return defined({
      databaseVersion: s["databaseVersion"] as string | undefined,
      tier: s["tier"] as string | undefined,
      availabilityType: s["availabilityType"] as SqlInstanceSpec["availabilityType"],
      dataDiskSizeGb: s["dataDiskSizeGb"] as number | undefined,
      databaseFlags,
      maintenanceWindow:
        mw &&
        defined({
          day: typeof day === "string" ? DAYS.indexOf(day) + 1 : (day as number | undefined),
          hour: mw["hour"] as number | undefined,
          updateTrack: mw["updateTrack"] as "canary" | "stable" | "week5" | undefined,
        }),
      allowRestart: (s["allowRestart"] as boolean | undefined) ?? false,
    });
  }

  healthCheck(s: Raw): HealthCheckSpec {
    const log = obj(s["logConfig"]);
    return defined({
      type: s["type"] as HealthCheckSpec["type"],
      port: s["port"] as number | undefined,
      requestPath: s["requestPath"] as string | undefined,
      checkIntervalSec: s["checkIntervalSec"] as number | undefined,
      timeoutSec: s["timeoutSec"] as number | undefined,
      healthyThreshold: s["healthyThreshold"] as number | undefined,
      unhealthyThreshold: s["unhealthyThreshold"] as number | undefined,
      logConfig: log && defined({ enable: log["enable"] as boolean | undefined }),
    });
  }

  backendService(s: Raw, at: FieldPath): BackendServiceSpec {
    const log = obj(s["logConfig"]);
    const od = obj(s["outlierDetection"]);
    const draining = obj(s["connectionDraining"]);
    const hcs = s["healthChecks"] as string[] | undefined;
    const backends = s["backends"] as Raw[] | undefined;
    const odAt = `${at}/outlierDetection`;
    return defined({
      protocol: s["protocol"] as BackendServiceSpec["protocol"],
      loadBalancingScheme: s["loadBalancingScheme"] as BackendServiceSpec["loadBalancingScheme"],
      timeoutSec: s["timeoutSec"] as number | undefined,
      connectionDraining:
        draining && defined({ drainingTimeoutSec: draining["drainingTimeoutSec"] as number | undefined }),
      healthChecks: hcs?.flatMap((h, i) => this.#ref("HealthCheck", h, `${at}/healthChecks/${i}`) ?? []),
      logConfig:
        log &&
        defined({
          enable: log["enable"] as boolean | undefined,
          sampleRate: log["sampleRate"] as number | undefined,
        }),
      outlierDetection:
        od &&
        defined({
          consecutiveErrors: od["consecutiveErrors"] as number | undefined,
          consecutiveGatewayFailure: od["consecutiveGatewayFailure"] as number | undefined,
          enforcingConsecutiveErrors: od["enforcingConsecutiveErrors"] as number | undefined,
          enforcingConsecutiveGatewayFailure: od["enforcingConsecutiveGatewayFailure"] as number | undefined,
          interval: this.#duration(od["interval"], `${odAt}/interval`, false),
          baseEjectionTime: this.#duration(od["baseEjectionTime"], `${odAt}/baseEjectionTime`, false),
          maxEjectionPercent: od["maxEjectionPercent"] as number | undefined,
        }),
      backends: backends?.flatMap((b, i): Backend[] => {
        const neg = obj(b["serverlessNeg"]);
        if (!neg) {
          return [
            defined({
              group: b["group"] as string,
              balancingMode: b["balancingMode"] as "UTILIZATION" | "RATE" | "CONNECTION" | undefined,
              capacityScaler: b["capacityScaler"] as number | undefined,
              maxUtilization: b["maxUtilization"] as number | undefined,
              maxRatePerInstance: b["maxRatePerInstance"] as number | undefined,
            }),
          ];
        }
        const path = `${at}/backends/${i}/serverlessNeg/service`;
        const region = neg["region"] as string | undefined;
        const service = this.#ref("CloudRunService", neg["service"], path, { region });
        const negRegion = region ?? service?.region;
        if (!service || !negRegion) {
          if (service)
            this.#issue(
              `${at}/backends/${i}/serverlessNeg`,
              `${show(`${at}/backends/${i}/serverlessNeg`)}: missing \`region\``,
            );
          return [];
        }
        if (region && service.region && region !== service.region) {
          this.#issue(
            `${at}/backends/${i}/serverlessNeg/region`,
            `${show(`${at}/backends/${i}/serverlessNeg/region`)}: ${region} is not the region of CloudRunService/${service.text} (${service.region}); a serverless NEG must be in its service's region`,
          );
        }
        return [
          { serverlessNeg: defined({ service, region: negRegion, name: neg["name"] as string | undefined }) },
        ];
      }),
    });
  }

  #scaling(v: unknown): ScalingSpec | undefined {
    const s = obj(v);
    return (
      s &&
      defined({
        minInstances: s["minInstances"] as number | undefined,
        maxInstances: s["maxInstances"] as number | undefined,
      })
    );
  }

  #probe(v: unknown, at: FieldPath): ProbeSpec | undefined {
    const p = obj(v);
    if (!p) return undefined;
    const http = obj(p["httpGet"]);
    const tcp = obj(p["tcpSocket"]);
    const grpc = obj(p["grpc"]);
    return defined({
      httpGet:
        http &&
        defined({ path: http["path"] as string | undefined, port: http["port"] as number | undefined }),
      tcpSocket: tcp && defined({ port: tcp["port"] as number | undefined }),
      grpc:
        grpc &&
        defined({ port: grpc["port"] as number | undefined, service: grpc["service"] as string | undefined }),
      initialDelay: this.#duration(p["initialDelay"], `${at}/initialDelay`, true),
      period: this.#duration(p["period"], `${at}/period`, true),
      timeout: this.#duration(p["timeout"], `${at}/timeout`, true),
      failureThreshold: p["failureThreshold"] as number | undefined,
    });
  }

  #secret(v: Raw): { name: string; version: string } {
    const name = String(v["name"]);
    return {
      name: name.startsWith("projects/") ? name : `projects/${this.#ctx.metadata.project}/secrets/${name}`,
      version: String(v["version"]),
    };
  }

  #env(v: unknown, at: FieldPath): EnvVar[] | undefined {
    if (v === undefined) return undefined;
    const out: EnvVar[] = [];
    if (Array.isArray(v)) {
      for (const entry of v as Raw[]) {
        const name = String(entry["name"]);
        const secret = obj(entry["secret"]);
        out.push(secret ? { name, secret: this.#secret(secret) } : { name, value: String(entry["value"]) });
      }
      return out;
    }
    // The map form becomes a list in key order; each item keeps the position of its key.
    Object.entries(v as Raw).forEach(([name, value], i) => {
      this.#ctx.source.alias(`${at}/${i}`, pointer(...segmentsOf(at), name));
      const secret = obj(value);
      if (value === null) out.push({ name, unset: true });
      else if (secret) out.push({ name, secret: this.#secret(obj(secret["secret"])!) });
      else out.push({ name, value: String(value) });
    });
    return out;
  }

  #template(t: Raw, at: FieldPath): RevisionTemplateSpec {
    const res = obj(t["resources"]);
    const vpc = obj(t["vpcAccess"]);
    const sqls = t["cloudSqlInstances"] as string[] | undefined;
    const connector = vpc
      ? this.#ref("VpcConnector", vpc["connector"], `${at}/vpcAccess/connector`)
      : undefined;
    if (connector && connector.region !== this.#ctx.metadata.region) {
      // https://cloud.google.com/run/docs/configuring/vpc-connectors: the connector must be
      // in the same region as the service that uses it.
      this.#issue(
        `${at}/vpcAccess/connector`,
        `${show(`${at}/vpcAccess/connector`)}: connector \`${connector.text}\` is in ${connector.region}, but the service is in ${this.#ctx.metadata.region}; Cloud Run only uses a connector in its own region`,
      );
    }
    return defined({
      scaling: this.#scaling(t["scaling"]),
      maxConcurrency: t["maxConcurrency"] as number | undefined,
      timeout: this.#duration(t["timeout"], `${at}/timeout`, true),
      executionEnvironment: t["executionEnvironment"] as "gen1" | "gen2" | undefined,
      containerName: t["containerName"] as string | undefined,
      resources:
        res &&
        defined({
          cpu: res["cpu"] === undefined ? undefined : parseCpu(res["cpu"]),
          memory: this.#memory(res["memory"], `${at}/resources/memory`),
          cpuIdle: res["cpuIdle"] as boolean | undefined,
          startupCpuBoost: res["startupCpuBoost"] as boolean | undefined,
        }),
      startupProbe: this.#probe(t["startupProbe"], `${at}/startupProbe`),
      livenessProbe: this.#probe(t["livenessProbe"], `${at}/livenessProbe`),
      vpcAccess:
        vpc &&
        defined({ connector, egress: vpc["egress"] as "ALL_TRAFFIC" | "PRIVATE_RANGES_ONLY" | undefined }),
      env: this.#env(t["env"], `${at}/env`),
      cloudSqlInstances: sqls?.flatMap(
        (s, i) => this.#ref("SqlInstance", s, `${at}/cloudSqlInstances/${i}`) ?? [],
      ),
    });
  }

  #memory(v: unknown, path: FieldPath): number | undefined {
    if (v === undefined) return undefined;
    const bytes = parseMemory(v);
    if (bytes === undefined)
      this.#issue(path, `${show(path)}: ${JSON.stringify(v)} is not a whole number of bytes`);
    return bytes;
  }

  cloudRun(s: Raw, at: FieldPath): CloudRunServiceSpec {
    const t = obj(s["template"]);
    return defined({
      ingress: s["ingress"] as CloudRunServiceSpec["ingress"],
      scaling: this.#scaling(s["scaling"]),
      template: t && this.#template(t, `${at}/template`),
    });
  }

  policy(s: Raw, at: FieldPath): CapacityPolicySpec {
    const sql = obj(s["sql"]) ?? {};
    const conn = obj(s["connector"]) ?? {};
    const rollout = obj(s["rollout"]) ?? {};
    const defaultEnv = s["dbConnectTimeoutEnv"] as string | undefined;
    const members: CapacityMember[] = [];
    const seen = new Map<string, number>();
    (s["members"] as Raw[]).forEach((m, i) => {
      const mAt = `${at}/members/${i}`;
      const service = this.#ref("CloudRunService", m["service"], `${mAt}/service`, { managedOnly: true });
      if (!service) return;
      const first = seen.get(service.id);
      if (first !== undefined) {
        this.#issue(
          `${mAt}/service`,
          `${show(`${mAt}/service`)}: ${service.text} is already members[${first}]; list each service once`,
        );
        return;
      }
      seen.set(service.id, i);
      const svc = this.#ctx.resources.get(service.id);
      const template = svc?.kind === "CloudRunService" ? svc.spec.template : undefined;
      let sqlInstance =
        m["sqlInstance"] === undefined
          ? undefined
          : this.#ref("SqlInstance", m["sqlInstance"], `${mAt}/sqlInstance`, { managedOnly: true });
      if (m["sqlInstance"] === undefined && template?.cloudSqlInstances?.length === 1) {
        sqlInstance = template.cloudSqlInstances[0];
      }
      let connector =
        m["connector"] === undefined
          ? undefined
          : this.#ref("VpcConnector", m["connector"], `${mAt}/connector`, { managedOnly: true });
      if (m["connector"] === undefined) connector = template?.vpcAccess?.connector;
      const connectionsPerInstance = m["connectionsPerInstance"] as number | undefined;
      const egressMbpsPerInstance = m["egressMbpsPerInstance"] as number | undefined;
      // Without the service's spec (it has problems of its own) there is nothing to default from.
      if (svc && connectionsPerInstance !== undefined && !sqlInstance && m["sqlInstance"] === undefined) {
        const count = template?.cloudSqlInstances?.length ?? 0;
        this.#issue(
          `${mAt}/connectionsPerInstance`,
          `${show(`${mAt}/connectionsPerInstance`)}: no SQL instance to count these connections against: CloudRunService/${service.text} ${count === 0 ? "lists no" : `lists ${count}`} spec.template.cloudSqlInstances; set members[${i}].sqlInstance`,
        );
      }
      if (svc && egressMbpsPerInstance !== undefined && !connector && m["connector"] === undefined) {
        this.#issue(
          `${mAt}/egressMbpsPerInstance`,
          `${show(`${mAt}/egressMbpsPerInstance`)}: no connector to count this egress against: CloudRunService/${service.text} has no spec.template.vpcAccess.connector; set members[${i}].connector`,
        );
      }
      const envName = (m["dbConnectTimeoutEnv"] as string | undefined) ?? defaultEnv;
      if (envName !== undefined && svc?.kind === "CloudRunService") {
        const path =
          m["dbConnectTimeoutEnv"] !== undefined ? `${mAt}/dbConnectTimeoutEnv` : `${at}/dbConnectTimeoutEnv`;
        const found = template?.env?.find((e) => e.name === envName);
        if (!found || !("value" in found)) {
          this.#issue(
            path,
            `${show(path)}: CloudRunService/${service.text} does not set \`${envName}\` to a literal value in spec.template.env; the capacity model reads the connect timeout from there`,
          );
        } else if (parseDuration(found.value) === undefined) {
          this.#issue(
            path,
            `${show(path)}: CloudRunService/${service.text} sets \`${envName}\` to ${JSON.stringify(found.value)}, which is not a number of seconds`,
          );
        }
      }
      members.push({
        service,
        sqlInstance,
        connector,
        connectionsPerInstance,
        egressMbpsPerInstance,
        dbConnectTimeoutEnv: envName,
      });
    });
    const gates = (rollout["gates"] as Raw[] | undefined) ?? [];
    return {
      members,
      sql: {
        reservedConnections:
          (sql["reservedConnections"] as number | undefined) ?? POLICY_DEFAULTS.reservedConnections,
        ceiling: (sql["ceiling"] as number | undefined) ?? POLICY_DEFAULTS.sqlCeiling,
      },
      connector: { ceiling: (conn["ceiling"] as number | undefined) ?? POLICY_DEFAULTS.connectorCeiling },
      rollout: {
        maxStepFactor: (rollout["maxStepFactor"] as number | undefined) ?? POLICY_DEFAULTS.maxStepFactor,
        settleTime:
          this.#duration(rollout["settleTime"], `${at}/rollout/settleTime`, false) ??
          POLICY_DEFAULTS.settleTimeSeconds,
        gates: gates.map(
          (g, i): GateSpec => ({
            metric: g["metric"] as string,
            threshold: g["threshold"] as number,
            failWhen: (g["failWhen"] as "above" | "below" | undefined) ?? "above",
            failureLimit: (g["failureLimit"] as number | undefined) ?? POLICY_DEFAULTS.gateFailureLimit,
            window:
              this.#duration(g["window"], `${at}/rollout/gates/${i}/window`, false) ??
              POLICY_DEFAULTS.gateWindowSeconds,
          }),
        ),
      },
    };
  }
}
