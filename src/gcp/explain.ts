import { type CredentialInfo, CredentialsError } from "./credentials.ts";
import { type CallContext, classify, type ErrorFacts, type Failure, GcpCallError } from "./errors.ts";
import { API_TITLES, permissionsOf } from "./permissions.ts";

/** Explanation is a failure put for a person: what failed, and what to do about it. */
export interface Explanation {
  /** One sentence: what failed, for which resource and API, and GCP's own words. */
  readonly summary: string;
  /** What to do, e.g. the `gcloud` command that fixes it. */
  readonly fix: string;
  readonly failure: Failure | CredentialsError["code"];
}

/** ExplainContext is what capstan knows beside the error. */
export interface ExplainContext {
  /** The credentials capstan runs with (undefined against the simulator). */
  readonly credentials?: CredentialInfo | undefined;
  /** The custom endpoint, when not real GCP. */
  readonly endpoint?: string | undefined;
}

/** ExplainSink is an ExplainContext a command fills in as it learns (see buildProgram). */
export type ExplainSink = { -readonly [K in keyof ExplainContext]: ExplainContext[K] };

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** projectOf reads the project id out of a resource name. */
function projectOf(resource: string | undefined): string | undefined {
  return resource ? /(?:^|\/)projects\/([^/]+)/.exec(resource)?.[1] : undefined;
}

function titled(api: string): string {
  const title = API_TITLES[api];
  return title ? `${title} (${api})` : api;
}

/** doing says which call failed: "services.list of Cloud Run Admin API (run.googleapis.com) on projects/p/locations/l". */
function doing(call: CallContext): string {
  return `${call.method} of ${titled(call.api)}${call.resource ? ` on ${call.resource}` : ""}`;
}

function gcpWords(f: ErrorFacts): string {
  const status =
    f.httpStatus !== undefined ? `${f.httpStatus}${f.status ? ` ${f.status}` : ""}` : (f.systemCode ?? "");
  const reason = f.reason ?? f.legacyReasons[0];
  return `${status}${reason ? ` ${reason}` : ""}: ${f.message}`.trim();
}

function member(credentials: CredentialInfo | undefined): string {
  return (
    credentials?.principal ??
    "MEMBER (e.g. serviceAccount:capstan@PROJECT.iam.gserviceaccount.com or user:you@example.com)"
  );
}

function credentialsFix(): string {
  return "run `gcloud auth application-default login` (on a laptop), or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run capstan where a service account is attached (Cloud Run, GKE, GCE); then `capstan doctor`";
}

/** explainCredentials puts a CredentialsError for a person. */
function explainCredentials(err: CredentialsError): Explanation {
  const looked = err.searched.length ? ` capstan looked at: ${err.searched.join("; ")}.` : "";
  switch (err.code) {
    case "NO_CREDENTIALS":
      return {
        failure: err.code,
        summary: `no Google Cloud credentials found, so capstan cannot call GCP.${looked}`,
        fix: credentialsFix(),
      };
    case "FILE_MISSING":
    case "FILE_INVALID":
      return {
        failure: err.code,
        summary: `${err.message}: ${(err.cause as Error | undefined)?.message ?? ""}`.trim(),
        fix: "point GOOGLE_APPLICATION_CREDENTIALS at a valid service account key file (or unset it), or run `gcloud auth application-default login`",
      };
    case "REFUSED":
      return {
        failure: err.code,
        summary: `${err.message}: they are expired, revoked, or belong to a deleted account or key`,
        fix: "run `gcloud auth application-default login` again, or create a new key for the service account (`gcloud iam service-accounts keys create`)",
      };
    case "UNREACHABLE":
      return {
        failure: err.code,
        summary: `${err.message}: there is no network route to Google from here`,
        fix: "check the network, DNS and proxy settings (HTTPS_PROXY); to rehearse offline, run `capstan sim` and pass --endpoint",
      };
    case "TIMEOUT":
      return {
        failure: err.code,
        summary: `${err.message}: the metadata server or the token endpoint did not answer`,
        fix: "check the network and proxy settings; off Google Cloud, use `gcloud auth application-default login` or GOOGLE_APPLICATION_CREDENTIALS",
      };
  }
}

/**
 * explain puts a failure for a person, or returns undefined for an error that is not a
 * GCP or credentials failure (a bug, which the CLI reports as one). It reads only what
 * src/gcp/errors.ts classifies (the failure kind and its structured facts) and capstan's
 * own tables (permissions and their roles, API titles), never message text.
 */
export function explain(err: unknown, context: ExplainContext = {}): Explanation | undefined {
  if (err instanceof CredentialsError) return explainCredentials(err);
  if (!(err instanceof GcpCallError)) return undefined;
  const { call, facts } = err;
  const failure = classify(err);
  const what = doing(call);
  const words = gcpWords(facts);
  const project = projectOf(call.resource) ?? "PROJECT";
  const tries = err.attempts > 1 ? ` after ${err.attempts} attempts over ${seconds(err.elapsedMs)}` : "";
  switch (failure) {
    case "network": {
      const host = facts.host ?? context.endpoint ?? call.api;
      return {
        failure,
        summary: `could not reach ${host} (${facts.systemCode}) for ${what}${tries}`,
        fix: context.endpoint
          ? `check that a simulator (\`capstan sim\`) or your endpoint serves at ${context.endpoint}`
          : "check the network, DNS and proxy settings (HTTPS_PROXY); to rehearse offline, run `capstan sim` and pass --endpoint",
      };
    }
    case "deadline": {
      const host = context.endpoint ? new URL(context.endpoint).host : call.api;
      return {
        failure,
        summary: `${host} did not answer ${what} in time (${err.attempts} attempt(s) over ${seconds(err.elapsedMs)})`,
        fix: context.endpoint
          ? `check that a simulator (\`capstan sim\`) or your endpoint serves at ${context.endpoint}, and that nothing between drops the connection`
          : "check the network and proxy; if GCP is slow right now, try again later (https://status.cloud.google.com)",
      };
    }
    case "unavailable":
      return {
        failure,
        summary: `${titled(call.api)} failed ${what}${tries} (${words})`,
        fix: "this is on GCP's side; try again later, and check https://status.cloud.google.com",
      };
    case "throttled":
      return {
        failure,
        summary: `${titled(call.api)} kept refusing ${what} for its rate quota${tries} (${words})`,
        fix: `someone else is using the same quota: wait a minute and run again, give capstan a smaller budget (--limit ${call.api}:CATEGORY=N, see src/gcp/quotas.ts), or raise the quota (console: IAM & Admin > Quotas)`,
      };
    case "quota-exceeded":
      return {
        failure,
        summary: `${what} was refused for a quota (${words})`,
        fix: "request a higher quota (console: IAM & Admin > Quotas), or free some of it",
      };
    case "unauthenticated":
      return {
        failure,
        summary: facts.oauthError
          ? `the credentials capstan runs with were refused (${facts.oauthError}) during ${what}: they are expired or revoked`
          : `${titled(call.api)} refused capstan's credentials for ${what} (${words})`,
        fix: context.endpoint
          ? `the endpoint ${context.endpoint} wants a bearer token capstan did not send`
          : "run `gcloud auth application-default login` again (or renew the service account key), then `capstan doctor`",
      };
    case "service-disabled": {
      const api = facts.metadata["service"] ?? call.api;
      const consumer = facts.metadata["consumer"];
      const userWithoutQuotaProject =
        context.credentials?.type === "authorized_user" && context.credentials.quotaProject === undefined;
      return {
        failure,
        summary: `${titled(api)} is not enabled${consumer ? ` in ${consumer}` : ""}, so ${what} failed`,
        fix: userWithoutQuotaProject
          ? `capstan runs with your user credentials and no quota project, so GCP bills the call to a project of Google's where the API is off: run \`gcloud auth application-default set-quota-project ${project}\`; if the API is off in ${project} itself: \`gcloud services enable ${api} --project ${project}\``
          : `gcloud services enable ${api} --project ${project}`,
      };
    }
    case "billing-disabled":
      return {
        failure,
        summary: `billing is not enabled for the project of ${what} (${words})`,
        fix: `link a billing account: \`gcloud billing projects link ${project} --billing-account=ACCOUNT_ID\``,
      };
    case "project-invalid":
      return {
        failure,
        summary: `project ${facts.metadata["consumer"] ?? project} does not exist, or capstan's identity cannot use it (${what})`,
        fix: `check \`project:\` in the specs' capstan.yaml, and \`gcloud projects describe ${project}\``,
      };
    case "quota-project-denied":
      return {
        failure,
        summary: `capstan's identity may not bill its calls to its quota project (${words})`,
        fix: `grant it roles/serviceusage.serviceUsageConsumer on the quota project, or choose another: \`gcloud auth application-default set-quota-project ${project}\``,
      };
    case "permission-denied": {
      const named = facts.metadata["permission"];
      const uses = permissionsOf(call.api, call.method);
      const permission = named ?? uses[0]?.permission;
      const role = uses.find((u) => u.permission === permission)?.role ?? uses[0]?.role;
      const sqlHint = facts.legacyReasons.includes("notAuthorized")
        ? " (Cloud SQL answers so for an instance that does not exist, too)"
        : "";
      return {
        failure,
        summary: `capstan's identity${context.credentials?.email ? ` ${context.credentials.email}` : ""} lacks ${permission ?? "a permission"} for ${what}${sqlHint}`,
        fix: role
          ? `grant ${role} (deploy/iam.md): \`gcloud projects add-iam-policy-binding ${project} --member=${member(context.credentials)} --role=${role}\``
          : "grant the role deploy/iam.md lists for this command",
      };
    }
    case "not-found": {
      const list = /\.list$/.test(call.method);
      return {
        failure,
        summary: list
          ? `${titled(call.api)} found no ${call.resource ?? "parent"} for ${call.method} (${words}): the project or location does not exist`
          : `${call.resource ?? "the resource"} does not exist (${what})`,
        fix: list
          ? `check \`project:\` and \`region:\` in the specs' capstan.yaml (\`gcloud projects describe ${project}\`)`
          : "check the resource's name in its spec; capstan never creates resources",
      };
    }
    case "operation-in-progress":
      return {
        failure,
        summary: `another operation is still running on ${call.resource ?? "the resource"} (${words})`,
        fix: "wait for it to finish, then run again: capstan never writes a resource while an operation runs on it",
      };
    case "conflict":
      return {
        failure,
        summary: `${call.resource ?? "the resource"} changed while capstan wrote it (${words})`,
        fix: "run again: capstan re-reads live state and plans from there",
      };
    case "invalid": {
      const fields = facts.fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ");
      return {
        failure,
        summary: `${titled(call.api)} refused ${what} as invalid (${words}${fields ? `; ${fields}` : ""})`,
        fix: "fix the spec field it names; `capstan validate` finds most of these offline",
      };
    }
    case "cancelled":
    case "unknown":
      return {
        failure,
        summary: `${what} failed (${words})`,
        fix: "run again; if it persists, run `capstan doctor`",
      };
  }
}

/**
 * describeError is one line for a report or a status: a GCP or credentials failure
 * explained with its fix, anything else by its message.
 */
export function describeError(err: unknown, context: ExplainContext = {}): string {
  const e = explain(err, context);
  if (e) return `${e.summary}; to fix: ${e.fix}`;
  return err instanceof Error ? err.message : String(err);
}
