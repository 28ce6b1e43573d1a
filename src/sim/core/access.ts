import { permissionForRpc, rolePermissions } from "../../gcp/permissions.ts";
import { projectNumberOf } from "./projects.ts";

/**
 * AccessFixture is the fixture's `access:` section: who calls, which projects exist,
 * which APIs each has enabled and what each identity may do there. Without it every
 * project exists, every API is enabled and every caller may do everything.
 *
 * ```yaml
 * access:
 *   identities:                      # bearer token -> IAM principal
 *     capstan-sim-token: serviceAccount:capstan@acme-staging.iam.gserviceaccount.com
 *   projects:
 *     acme-staging:
 *       number: "123456789012"       # default: derived from the id (projectNumberOf)
 *       services: [run.googleapis.com, sqladmin.googleapis.com]   # default: every API
 *       bindings:                    # default: everyone may do everything
 *         - role: roles/run.viewer   # a predefined role (its permissions from src/gcp/permissions.ts),
 *           members: [serviceAccount:capstan@acme-staging.iam.gserviceaccount.com]
 *         - permissions: [cloudsql.instances.list]   # or permissions, as a custom role grants them
 *           members: [...]
 * ```
 * With `projects` given, a project not listed does not exist.
 */
export interface AccessFixture {
  readonly identities?: Readonly<Record<string, string>>;
  readonly projects?: Readonly<Record<string, ProjectFixture>>;
}

/** ProjectFixture is one project of {@link AccessFixture}. */
export interface ProjectFixture {
  readonly number?: string;
  readonly services?: readonly string[];
  readonly bindings?: readonly {
    readonly role?: string;
    readonly permissions?: readonly string[];
    readonly members: readonly string[];
  }[];
}

/** DEFAULT_PRINCIPAL is who a token the fixture does not name belongs to. */
export const DEFAULT_PRINCIPAL = "user:capstan-sim@example.com";

/**
 * ALWAYS_ENABLED are APIs GCP enables in every project and capstan's preflight needs to
 * see the others: Service Usage itself (https://cloud.google.com/service-usage/docs/enabled-service#default).
 */
const ALWAYS_ENABLED = new Set(["serviceusage.googleapis.com"]);

/** Project is a project as the simulator knows it. */
export interface SimProject {
  readonly id: string;
  readonly number: string;
}

/** Denial says why a call is refused, for the API's error format (src/sim/core/gcp-errors.ts). */
export type Denial =
  | { readonly kind: "CONSUMER_INVALID"; readonly project: string }
  | { readonly kind: "SERVICE_DISABLED"; readonly project: SimProject }
  | { readonly kind: "IAM_PERMISSION_DENIED"; readonly project: SimProject; readonly permission: string };

/** Access holds the `access:` section and decides who may call what. */
export class Access {
  #fixture: AccessFixture = {};

  /** load replaces the section (undefined: everything open). */
  load(fixture: AccessFixture | undefined): void {
    this.#fixture = structuredClone(fixture ?? {});
  }

  /** dump returns the section as loaded. */
  dump(): AccessFixture {
    return structuredClone(this.#fixture);
  }

  /** principal is who a bearer token belongs to. */
  principal(token: string | undefined): string {
    return (token && this.#fixture.identities?.[token]) || DEFAULT_PRINCIPAL;
  }

  /** project finds a project by id or number; undefined when the fixture lists projects and not this one. */
  project(idOrNumber: string): SimProject | undefined {
    const listed = this.#fixture.projects;
    if (!listed)
      return { id: idOrNumber, number: /^\d+$/.test(idOrNumber) ? idOrNumber : projectNumberOf(idOrNumber) };
    for (const [id, p] of Object.entries(listed)) {
      const number = p.number ?? projectNumberOf(id);
      if (idOrNumber === id || idOrNumber === number) return { id, number };
    }
    return undefined;
  }

  /** enabled says whether an API is enabled in a project. */
  enabled(project: SimProject, api: string): boolean {
    const services = this.#fixture.projects?.[project.id]?.services;
    return services === undefined || ALWAYS_ENABLED.has(api) || services.includes(api);
  }

  /** granted says whether a principal holds a permission in a project. */
  granted(project: SimProject, principal: string, permission: string): boolean {
    const bindings = this.#fixture.projects?.[project.id]?.bindings;
    if (bindings === undefined) return true;
    return bindings.some(
      (b) =>
        b.members.includes(principal) &&
        (b.role === "roles/owner" ||
          b.permissions?.includes(permission) ||
          (b.role !== undefined && rolePermissions(b.role).includes(permission))),
    );
  }

  /**
   * check decides whether `principal` may make an RPC of `api` on a resource of
   * `project` (by id or number), in the order GCP checks: the project exists, the API is
   * enabled in it, the caller holds the permission the RPC needs (src/gcp/permissions.ts;
   * an RPC it does not list needs none here).
   */
  check(api: string, rpc: string, project: string | undefined, principal: string): Denial | undefined {
    if (project === undefined) return undefined;
    const p = this.project(project);
    if (!p) return { kind: "CONSUMER_INVALID", project };
    if (!this.enabled(p, api)) return { kind: "SERVICE_DISABLED", project: p };
    const permission = permissionForRpc(api, rpc);
    if (permission && !this.granted(p, principal, permission)) {
      return { kind: "IAM_PERMISSION_DENIED", project: p, permission };
    }
    return undefined;
  }
}
