/**
 * Identities of specs and the references between them.
 *
 * A reference is either the short name of a spec in the loaded set (`connector:
 * vpc-main`), resolved in the referring spec's project (and region, for regional
 * kinds), or a full GCP name (`projects/p/locations/r/connectors/c`; Cloud SQL takes
 * its connection name `p:r:i`) that may point at a resource capstan does not manage.
 * A short name that matches no loaded spec is an error: it is almost always a typo, and
 * the full name is there for the other case.
 */
import { names } from "../gcp/names.ts";
import type { Kind, Ref, SourcePos } from "./types.ts";

/** Identity is who a document says it is: enough to build its id and GCP name. */
export interface Identity {
  readonly kind: Kind;
  readonly name: string;
  readonly project: string;
  readonly region: string | undefined;
}

/** gcpNameOf returns the full GCP resource name of an identity; undefined for CapacityPolicy. */
export function gcpNameOf(who: Identity): string | undefined {
  const { name, project, region = "" } = who;
  switch (who.kind) {
    case "VpcConnector":
      return names.connector.format({ project, location: region, connector: name });
    case "SqlInstance":
      return names.sqlInstance.format({ project, instance: name });
    case "BackendService":
      return names.computeBackendService.format({ project, backendService: name });
    case "HealthCheck":
      return names.computeHealthCheck.format({ project, healthCheck: name });
    case "CloudRunService":
      return names.runService.format({ project, location: region, service: name });
    case "CapacityPolicy":
      return undefined;
  }
}

/**
 * idOf returns the identity key of a resource: `<Kind>:<full GCP name>`. Cloud SQL
 * instance names are unique per project, so a SqlInstance's region is not part of it;
 * a CapacityPolicy is keyed by project and name.
 */
export function idOf(who: Identity): string {
  return `${who.kind}:${gcpNameOf(who) ?? `projects/${who.project}/capacityPolicies/${who.name}`}`;
}

/** IndexedSpec is one document known to the index, with where it was defined. */
export interface IndexedSpec extends Identity {
  readonly id: string;
  readonly pos: SourcePos;
}

/** The scope a short reference is resolved in: the referring spec's project and region. */
export interface RefScope {
  readonly project: string;
  readonly region: string | undefined;
}

/** RefResult is a resolved reference, or the message saying why it does not resolve. */
export type RefResult<K extends Kind> = { readonly ref: Ref<K> } | { readonly error: string };

/**
 * legacyHealthCheck returns the relative name of a legacy HTTP(S) health check reference
 * (`projects/P/global/httpHealthChecks/NAME` or `httpsHealthChecks`, optionally as a URL),
 * which a backend service may name beside health checks: "The list of URLs to the
 * healthChecks, httpHealthChecks (legacy), or httpsHealthChecks (legacy) resource"
 * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices, `healthChecks[]`).
 * capstan manages no legacy health check, so such a reference is always to one it does not.
 */
function legacyHealthCheck(text: string): string | undefined {
  const m =
    /^(?:https:\/\/(?:www|compute)\.googleapis\.com\/compute\/v1\/)?(projects\/[^/]+\/global\/https?HealthChecks\/[^/]+)$/.exec(
      text,
    );
  return m?.[1];
}

/** FULL_NAME_HINTS shows the full-name form of each kind, for messages. */
const FULL_NAME_HINTS: Readonly<Record<Kind, string>> = {
  VpcConnector: "projects/P/locations/R/connectors/NAME",
  SqlInstance: "PROJECT:REGION:INSTANCE",
  BackendService: "projects/P/global/backendServices/NAME",
  HealthCheck: "projects/P/global/healthChecks/NAME",
  CloudRunService: "projects/P/locations/R/services/NAME",
  CapacityPolicy: "",
};

/**
 * SpecIndex knows every document of a set by identity and resolves references against
 * it. Build it once per load, from every document whose identity could be read (even
 * one with schema errors, so a reference to it is not reported as dangling too).
 */
export class SpecIndex {
  readonly #byId = new Map<string, IndexedSpec>();
  readonly #all: IndexedSpec[] = [];

  /**
   * add registers a document. It returns the earlier document with the same identity,
   * if any, and then keeps the earlier one.
   */
  add(spec: Omit<IndexedSpec, "id">): IndexedSpec | undefined {
    const id = idOf(spec);
    const earlier = this.#byId.get(id);
    if (earlier) return earlier;
    const entry = { ...spec, id };
    this.#byId.set(id, entry);
    this.#all.push(entry);
    return undefined;
  }

  /** get returns the document with identity `id`. */
  get(id: string): IndexedSpec | undefined {
    return this.#byId.get(id);
  }

  /**
   * resolve turns reference `text` to a `kind` into a {@link Ref}. `region` overrides
   * the scope's region for regional targets (a serverless NEG names its own region).
   * With `managedOnly`, a full name must also point at a spec in the set.
   */
  resolve<K extends Kind>(
    kind: K,
    text: string,
    scope: RefScope,
    options: { readonly region?: string | undefined; readonly managedOnly?: boolean } = {},
  ): RefResult<K> {
    const legacy = kind === "HealthCheck" ? legacyHealthCheck(text) : undefined;
    if (legacy) {
      if (options.managedOnly)
        return { error: `HealthCheck \`${text}\` is a legacy health check, not a spec` };
      return {
        ref: { kind, text, name: legacy, id: `${kind}:${legacy}`, managed: false, region: undefined },
      };
    }
    const full = this.#parseFull(kind, text);
    if (full) {
      const id = idOf(full);
      const managed = this.#byId.get(id);
      if (options.managedOnly && !managed) {
        return {
          error: `${kind} \`${text}\` is not among the loaded specs, and a capacity policy can only count specs it reads; ${this.#known(kind, full)}`,
        };
      }
      if (
        managed &&
        kind === "SqlInstance" &&
        managed.region !== undefined &&
        full.region !== managed.region
      ) {
        return {
          error: `connection name \`${text}\` says region ${full.region}, but SqlInstance/${managed.name} is in ${managed.region}`,
        };
      }
      return { ref: this.#ref(kind, text, full, managed !== undefined) };
    }
    if (text.includes("/") || text.includes(":")) {
      return { error: `\`${text}\` is neither a ${kind} name nor a full name ${FULL_NAME_HINTS[kind]}` };
    }
    const region = options.region ?? scope.region;
    if (kind === "CloudRunService" && options.region === undefined) {
      // A global spec (a backend service) or a policy without a region names a service
      // by name alone: accept it when exactly one loaded service has that name.
      const candidates = this.#all.filter(
        (s) =>
          s.kind === kind &&
          s.project === scope.project &&
          s.name === text &&
          (!region || s.region === region),
      );
      if (candidates.length === 1) return { ref: this.#ref(kind, text, candidates[0]!, true) };
      if (candidates.length > 1) {
        return {
          error: `CloudRunService \`${text}\` exists in several regions (${candidates.map((c) => c.region).join(", ")}); say which with a region or a full name ${FULL_NAME_HINTS[kind]}`,
        };
      }
    }
    const target: Identity = {
      kind,
      name: text,
      project: scope.project,
      region: kind === "SqlInstance" ? undefined : region,
    };
    const hit = this.#byId.get(idOf(target));
    if (hit) return { ref: this.#ref(kind, text, hit, true) };
    if (kind === "SqlInstance") {
      const any = this.#all.find((s) => s.kind === kind && s.project === scope.project && s.name === text);
      if (any) return { ref: this.#ref(kind, text, any, true) };
    }
    const where = kind === "SqlInstance" || !region ? scope.project : `${scope.project}/${region}`;
    return {
      error: `no ${kind} \`${text}\` in ${where} among the loaded specs; ${this.#known(kind, target)}, or give the full name ${FULL_NAME_HINTS[kind]} of one capstan does not manage`,
    };
  }

  #known(kind: Kind, near: Identity): string {
    const same = this.#all.filter((s) => s.kind === kind && s.project === near.project);
    if (same.length === 0) return `there are no ${kind} specs in project ${near.project}`;
    const shown = same
      .map((s) => (s.region && kind !== "SqlInstance" ? `${s.name} (${s.region})` : s.name))
      .sort()
      .slice(0, 8);
    return `known: ${shown.join(", ")}`;
  }

  #ref<K extends Kind>(kind: K, text: string, who: Identity, managed: boolean): Ref<K> {
    return {
      kind,
      text,
      name: gcpNameOf({ ...who, kind })!,
      id: idOf({ ...who, kind }),
      managed,
      region: who.region,
    };
  }

  #parseFull(kind: Kind, text: string): Identity | undefined {
    switch (kind) {
      case "VpcConnector": {
        const p = names.connector.parse(text);
        return p && { kind, name: p.connector, project: p.project, region: p.location };
      }
      case "CloudRunService": {
        const p = names.runService.parse(text);
        return p && { kind, name: p.service, project: p.project, region: p.location };
      }
      case "HealthCheck": {
        const p = names.computeHealthCheck.parse(text.replace(/^https:\/\/[^/]+\/compute\/v1\//, ""));
        return p && { kind, name: p.healthCheck, project: p.project, region: undefined };
      }
      case "SqlInstance": {
        // Cloud Run mounts Cloud SQL by connection name, `project:region:instance`.
        const m = /^([^:/]+):([^:/]+):([^:/]+)$/.exec(text);
        return m ? { kind, name: m[3]!, project: m[1]!, region: m[2]! } : undefined;
      }
      case "BackendService": {
        const p = names.computeBackendService.parse(text);
        return p && { kind, name: p.backendService, project: p.project, region: undefined };
      }
      case "CapacityPolicy":
        return undefined;
    }
  }
}
