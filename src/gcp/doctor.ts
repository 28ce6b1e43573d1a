import type { OAuth2Client } from "google-auth-library";
import type { AnyResource } from "../spec/types.ts";
import type { Gcp } from "./access.ts";
import { gaxCallOptions } from "./call.ts";
import {
  type CredentialInfo,
  CredentialsError,
  principalOf,
  type ResolveCredentialsOptions,
  resolveCredentials,
  tokenEmail,
} from "./credentials.ts";
import { classify } from "./errors.ts";
import { explain } from "./explain.ts";
import { API_TITLES, COMMANDS, type Command, PERMISSIONS, requirements } from "./permissions.ts";

/** CheckStatus is how one check came out: `ok`, `missing` (a fix is needed), `error` (could not check), `note`. */
export type CheckStatus = "ok" | "missing" | "error" | "note";

/** Check is one row of `capstan doctor`'s table. */
export interface Check {
  /** What was checked, e.g. `credentials`, `project acme-staging`, `api run.googleapis.com`. */
  readonly check: string;
  readonly project?: string | undefined;
  readonly status: CheckStatus;
  readonly detail: string;
  /** The command that fixes it. */
  readonly fix?: string | undefined;
  /** Whether it stops the command doctor was asked about; false for notes and optional permissions. */
  readonly blocking: boolean;
}

/** PermissionResult is whether the identity holds one permission, and which commands need it. */
export interface PermissionResult {
  readonly project: string;
  readonly permission: string;
  readonly role: string;
  readonly granted: boolean | undefined;
  /** command → "required" | "optional" for the commands that use it. */
  readonly commands: Readonly<Partial<Record<Command, "required" | "optional">>>;
}

/** DoctorReport is everything `capstan doctor` found. */
export interface DoctorReport {
  /** The command the exit code is for. */
  readonly command: Command;
  readonly identity: CredentialInfo | undefined;
  readonly projects: readonly {
    readonly id: string;
    readonly number: string | undefined;
    readonly reachable: boolean;
    readonly apis: readonly { readonly api: string; readonly enabled: boolean | undefined }[];
  }[];
  readonly permissions: readonly PermissionResult[];
  readonly checks: readonly Check[];
  /** Everything `command` needs is present. */
  readonly ok: boolean;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  readonly gcp: Gcp;
  readonly resources: readonly AnyResource[];
  /** @default "plan" */
  readonly command?: Command;
  /** The simulator's endpoint; undefined: real GCP with Application Default Credentials. */
  readonly endpoint?: string | undefined;
  readonly credentials?: ResolveCredentialsOptions;
  readonly signal?: AbortSignal | undefined;
}

const RM = "cloudresourcemanager.googleapis.com";
const SU = "serviceusage.googleapis.com";
/** BATCH is how many services one Service Usage batchGet may name (BatchGetServicesRequest.names). */
const BATCH = 30;

function explained(err: unknown, endpoint: string | undefined, identity: CredentialInfo | undefined) {
  return explain(err, { endpoint, credentials: identity });
}

/**
 * identify says who capstan runs as: against real GCP, Application Default Credentials
 * resolved into a token (and, for user credentials, tokeninfo's email); against the
 * simulator, tokeninfo on its placeholder token.
 */
async function identify(options: DoctorOptions): Promise<CredentialInfo> {
  const auth = options.gcp.clients.auth;
  if (options.endpoint) {
    const client = auth as OAuth2Client;
    const token = client.credentials.access_token ?? "";
    const email = await tokenEmail(client, token);
    return {
      type: "simulator",
      email,
      principal: principalOf(email),
      quotaProject: undefined,
      source: options.endpoint,
    };
  }
  return resolveCredentials(auth as never, { identify: true, ...(options.credentials ?? {}) });
}

/**
 * runDoctor checks what capstan needs before its first plan, and says for each thing
 * missing what fixes it:
 * 1. Application Default Credentials resolve, and to whom (and, for a user, that a quota
 *    project is set: without one GCP bills calls to a project of Google's where most APIs
 *    are off);
 * 2. each project the specs name exists and is reachable (Resource Manager projects.get);
 * 3. each API the specs need there is enabled (Service Usage services.batchGet);
 * 4. which permissions each command needs the identity lacks (Resource Manager
 *    projects.testIamPermissions, with the permissions of src/gcp/permissions.ts).
 * Every call goes through `gcp.call` like capstan's others: rate limited, retried, and
 * explained by the same classifier when it fails.
 */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { gcp, resources, endpoint, signal } = options;
  const command = options.command ?? "plan";
  const checks: Check[] = [];
  const projects: DoctorReport["projects"][number][] = [];
  const permissions: PermissionResult[] = [];
  const finish = (identity: CredentialInfo | undefined): DoctorReport => ({
    command,
    identity,
    projects,
    permissions,
    checks,
    ok: !checks.some((c) => c.blocking && c.status !== "ok"),
  });

  let identity: CredentialInfo;
  try {
    identity = await identify(options);
  } catch (err) {
    const e = err instanceof CredentialsError ? explained(err, endpoint, undefined) : undefined;
    checks.push({
      check: "credentials",
      status: "missing",
      detail: e?.summary ?? (err instanceof Error ? err.message : String(err)),
      fix: e?.fix,
      blocking: true,
    });
    return finish(undefined);
  }
  checks.push({
    check: "credentials",
    status: "ok",
    detail: `${identity.principal ?? "an identity tokeninfo does not name"} (${identity.type}, from ${identity.source})`,
    blocking: true,
  });
  if (identity.type === "authorized_user") {
    const first = resources[0]?.metadata.project ?? "PROJECT";
    checks.push(
      identity.quotaProject
        ? { check: "quota project", status: "ok", detail: identity.quotaProject, blocking: true }
        : {
            check: "quota project",
            status: "missing",
            detail:
              "user credentials without a quota project: GCP bills their calls to a project of Google's, where most APIs are not enabled",
            fix: `gcloud auth application-default set-quota-project ${first}`,
            blocking: true,
          },
    );
  }

  const needed = new Map<string, Set<string>>();
  for (const c of COMMANDS) {
    for (const r of requirements(resources, c)) {
      const set = needed.get(r.project) ?? new Set<string>();
      set.add(r.use.api);
      needed.set(r.project, set);
    }
  }
  const member = identity.principal ?? "MEMBER";
  for (const [project, apiSet] of needed) {
    // 2. The project.
    let number: string | undefined;
    try {
      const [p] = await gcp.call(
        { api: RM, method: "projects.get", write: false, resource: `projects/${project}` },
        () => gcp.clients.resourceManager.getProject({ name: `projects/${project}` }, gaxCallOptions()),
        signal,
      );
      number = p.name?.split("/")[1];
      checks.push({
        check: "project",
        project,
        status: "ok",
        detail: `projects/${number ?? "?"}`,
        blocking: true,
      });
    } catch (err) {
      const hidden = classify(err) === "permission-denied" || classify(err) === "not-found";
      const e = explained(err, endpoint, identity);
      checks.push({
        check: "project",
        project,
        status: hidden ? "missing" : "error",
        detail: hidden
          ? `project ${project} does not exist, or ${identity.email ?? "this identity"} may not see it (resourcemanager.projects.get)`
          : (e?.summary ?? String(err)),
        fix: hidden
          ? `check \`project:\` in the specs' capstan.yaml; \`gcloud projects describe ${project}\`; grant roles/browser: \`gcloud projects add-iam-policy-binding ${project} --member=${member} --role=roles/browser\``
          : e?.fix,
        blocking: true,
      });
      projects.push({ id: project, number: undefined, reachable: false, apis: [] });
      continue;
    }

    // 3. APIs.
    const apis = [...apiSet];
    const states = new Map<string, boolean>();
    try {
      for (let i = 0; i < apis.length; i += BATCH) {
        const chunk = apis.slice(i, i + BATCH);
        const [answer] = await gcp.call(
          { api: SU, method: "services.batchGet", write: false, resource: `projects/${project}` },
          () =>
            gcp.clients.serviceUsage.batchGetServices(
              { parent: `projects/${project}`, names: chunk.map((a) => `projects/${project}/services/${a}`) },
              gaxCallOptions(),
            ),
          signal,
        );
        for (const s of answer.services ?? []) {
          const api = s.config?.name ?? s.name?.split("/services/")[1];
          // State arrives as its name or its number (ENABLED = 2) depending on enum encoding.
          if (api) states.set(api, s.state === "ENABLED" || (s.state as unknown) === 2);
        }
      }
    } catch (err) {
      const e = explained(err, endpoint, identity);
      checks.push({
        check: "apis",
        project,
        status: "error",
        detail: `could not read which APIs are enabled: ${e?.summary ?? String(err)}`,
        fix:
          classify(err) === "permission-denied"
            ? `grant roles/serviceusage.serviceUsageViewer: \`gcloud projects add-iam-policy-binding ${project} --member=${member} --role=roles/serviceusage.serviceUsageViewer\``
            : e?.fix,
        blocking: true,
      });
    }
    const apiResults = apis.map((api) => ({ api, enabled: states.get(api) }));
    for (const { api, enabled } of apiResults) {
      if (enabled === undefined) continue;
      const usedBy = COMMANDS.filter((c) =>
        requirements(resources, c).some((r) => r.project === project && r.use.api === api),
      );
      checks.push({
        check: `api ${api}`,
        project,
        status: enabled ? "ok" : "missing",
        detail: `${API_TITLES[api] ?? api} ${enabled ? "enabled" : "not enabled"} (${usedBy.join(", ")})`,
        fix: enabled ? undefined : `gcloud services enable ${api} --project ${project}`,
        blocking: usedBy.includes(command),
      });
    }
    projects.push({ id: project, number, reachable: true, apis: apiResults });

    // 4. Permissions, all commands at once.
    const uses = new Map<string, PermissionResult>();
    for (const c of COMMANDS) {
      for (const r of requirements(resources, c)) {
        if (r.project !== project) continue;
        const prev = uses.get(r.use.permission);
        uses.set(r.use.permission, {
          project,
          permission: r.use.permission,
          role: r.use.role,
          granted: undefined,
          commands: { ...(prev?.commands ?? {}), [c]: r.required ? "required" : "optional" },
        });
      }
    }
    let granted: Set<string> | undefined;
    try {
      const [answer] = await gcp.call(
        { api: RM, method: "projects.testIamPermissions", write: false, resource: `projects/${project}` },
        () =>
          gcp.clients.resourceManager.testIamPermissions(
            { resource: `projects/${project}`, permissions: [...uses.keys()] },
            gaxCallOptions(),
          ),
        signal,
      );
      granted = new Set(answer.permissions ?? []);
    } catch (err) {
      const e = explained(err, endpoint, identity);
      checks.push({
        check: "permissions",
        project,
        status: "error",
        detail: `could not test permissions: ${e?.summary ?? String(err)}`,
        fix: e?.fix,
        blocking: true,
      });
    }
    const missingByRole = new Map<string, PermissionResult[]>();
    for (const u of uses.values()) {
      const result = { ...u, granted: granted?.has(u.permission) };
      permissions.push(result);
      if (granted && !result.granted)
        missingByRole.set(u.role, [...(missingByRole.get(u.role) ?? []), result]);
    }
    if (granted && missingByRole.size === 0) {
      checks.push({
        check: "permissions",
        project,
        status: "ok",
        detail: `all ${uses.size} permissions of plan, apply and run granted`,
        blocking: true,
      });
    }
    for (const [role, missing] of missingByRole) {
      const onAccount = PERMISSIONS.find((p) => p.role === role)?.grantedOn;
      const cmds = COMMANDS.filter((c) => missing.some((m) => m.commands[c] === "required"));
      const optional = COMMANDS.filter(
        (c) => missing.some((m) => m.commands[c] === "optional") && !cmds.includes(c),
      );
      const needs = [
        cmds.length ? `needed by ${cmds.join(", ")}` : "",
        optional.length ? `used by ${optional.join(", ")} when granted` : "",
      ]
        .filter(Boolean)
        .join("; ");
      checks.push({
        check: `role ${role}`,
        project,
        status: onAccount ? "note" : "missing",
        detail: `lacks ${missing.map((m) => m.permission).join(", ")} (${needs})${
          onAccount ? `; not granted on the project, which is fine when it is granted on ${onAccount}` : ""
        }`,
        fix: onAccount
          ? `gcloud iam service-accounts add-iam-policy-binding RUNTIME_SA --member=${member} --role=${role}`
          : `gcloud projects add-iam-policy-binding ${project} --member=${member} --role=${role}`,
        blocking: !onAccount && cmds.includes(command),
      });
    }
  }
  return finish(identity);
}
