import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  BaseExternalAccountClient,
  Compute,
  type GoogleAuth,
  Impersonated,
  JWT,
  type OAuth2Client,
  UserRefreshClient,
} from "google-auth-library";
import { type Clock, systemClock } from "../clock/index.ts";
import { withDeadline } from "./call.ts";
import { errorFacts } from "./errors.ts";

/** CredentialType is the kind of Application Default Credentials capstan found. */
export type CredentialType =
  | "service_account"
  | "authorized_user"
  | "external_account"
  | "impersonated_service_account"
  | "gce_metadata"
  | "simulator"
  | "other";

/** CredentialInfo says who capstan runs as, and how it found out. */
export interface CredentialInfo {
  readonly type: CredentialType;
  /** The account's email, when known (service accounts always; users through tokeninfo). */
  readonly email: string | undefined;
  /** The IAM principal, e.g. `serviceAccount:ci@p.iam.gserviceaccount.com` or `user:me@example.com`. */
  readonly principal: string | undefined;
  /** The quota project API calls are billed to (user credentials need one). */
  readonly quotaProject: string | undefined;
  /** Where they came from: a file, the metadata server, or the simulator's placeholder token. */
  readonly source: string;
}

/**
 * CredentialsErrorCode says what went wrong while resolving credentials:
 * - `NO_CREDENTIALS`: no Application Default Credentials anywhere;
 * - `FILE_MISSING`: GOOGLE_APPLICATION_CREDENTIALS names a file that does not exist;
 * - `FILE_INVALID`: the credentials file is not valid JSON credentials;
 * - `REFUSED`: the token endpoint refused them (expired, revoked, deleted key);
 * - `UNREACHABLE`: the token endpoint (or metadata server) could not be reached;
 * - `TIMEOUT`: resolving them did not finish in time.
 */
export type CredentialsErrorCode =
  | "NO_CREDENTIALS"
  | "FILE_MISSING"
  | "FILE_INVALID"
  | "REFUSED"
  | "UNREACHABLE"
  | "TIMEOUT";

/** CredentialsError is a failure to resolve Application Default Credentials into an access token. */
export class CredentialsError extends Error {
  readonly code: CredentialsErrorCode;
  /** Where capstan looked, for the message. */
  readonly searched: readonly string[];
  /** The host that could not be reached, for UNREACHABLE. */
  readonly host: string | undefined;
  /** The token endpoint's OAuth 2.0 error code, for REFUSED (e.g. `invalid_grant`). */
  readonly oauthError: string | undefined;

  constructor(
    code: CredentialsErrorCode,
    message: string,
    options: { cause?: unknown; searched?: readonly string[]; host?: string; oauthError?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "CredentialsError";
    this.code = code;
    this.searched = options.searched ?? [];
    this.host = options.host;
    this.oauthError = options.oauthError;
  }
}

/** wellKnownFile is where `gcloud auth application-default login` writes credentials. */
export function wellKnownFile(): string {
  // https://cloud.google.com/docs/authentication/application-default-credentials#personal
  return process.platform === "win32"
    ? join(process.env["APPDATA"] ?? homedir(), "gcloud", "application_default_credentials.json")
    : join(homedir(), ".config", "gcloud", "application_default_credentials.json");
}

/** TOKEN_ATTEMPTS is the default of {@link ResolveCredentialsOptions.tokenAttempts}. */
const TOKEN_ATTEMPTS = 3;

/** Options of {@link resolveCredentials}. */
export interface ResolveCredentialsOptions {
  /**
   * Real milliseconds resolving may take. It bounds google-auth-library's probe of the
   * GCE metadata server when no other credentials exist (3 s per try off GCE, unbounded
   * on a machine whose BIOS says Google) and the token request.
   * @default 20_000
   */
  readonly timeoutMs?: number;
  /**
   * Ask the token endpoint who the credentials belong to, when the credentials do not
   * say (user credentials). `capstan doctor` does; the other commands do not need to.
   * @default false
   */
  readonly identify?: boolean;
  /**
   * Attempts at getting a token when the token endpoint cannot be reached (DNS, refused
   * or reset connections), the first included; they back off 1 s, 2 s, 4 s, ... A network
   * that is down for a moment is not a missing network. (google-auth-library retries a
   * dropped connection twice itself within one attempt.)
   * @default 3
   */
  readonly tokenAttempts?: number;
  /** The clock the backoff sleeps on. @default systemClock */
  readonly clock?: Clock;
}

function typeOf(client: unknown): CredentialType {
  if (client instanceof Impersonated) return "impersonated_service_account";
  if (client instanceof JWT) return "service_account";
  if (client instanceof UserRefreshClient) return "authorized_user";
  if (client instanceof Compute) return "gce_metadata";
  if (client instanceof BaseExternalAccountClient) return "external_account";
  return "other";
}

/** principalOf names an account as IAM policies do. */
export function principalOf(email: string | undefined): string | undefined {
  if (!email) return undefined;
  return /\.gserviceaccount\.com$/.test(email) ? `serviceAccount:${email}` : `user:${email}`;
}

/**
 * resolveCredentials finds Application Default Credentials and gets an access token with
 * them, within a deadline, so a command fails before its first API call with a
 * {@link CredentialsError} that says what is missing. Where a failure happens decides
 * what it is: while finding the credentials (no credentials, a missing or broken file),
 * or while getting a token (refused by the token endpoint, which answers with an OAuth
 * 2.0 error code, RFC 6749 §5.2; or unreachable, which Node reports with a system error
 * code).
 */
export async function resolveCredentials(
  auth: GoogleAuth,
  options: ResolveCredentialsOptions = {},
): Promise<CredentialInfo> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const envFile = process.env["GOOGLE_APPLICATION_CREDENTIALS"];
  const searched = [
    envFile
      ? `the file GOOGLE_APPLICATION_CREDENTIALS names (${envFile})`
      : "GOOGLE_APPLICATION_CREDENTIALS (not set)",
    `${wellKnownFile()} (written by \`gcloud auth application-default login\`)`,
    "the metadata server of a Google Cloud runtime (GCE, GKE, Cloud Run)",
  ];
  const source = envFile ?? wellKnownFile();
  let client: Awaited<ReturnType<GoogleAuth["getClient"]>>;
  try {
    client = await withDeadline(
      quietMetadataProbe(() => auth.getClient()),
      timeoutMs,
      "finding Application Default Credentials",
    );
  } catch (err) {
    const facts = errorFacts(err);
    if (facts.grpcCode === 4) {
      throw new CredentialsError(
        "TIMEOUT",
        `finding Application Default Credentials did not finish within ${timeoutMs / 1000} s`,
        { cause: err, searched },
      );
    }
    if (envFile && (err as { code?: unknown }).code === "ENOENT") {
      throw new CredentialsError(
        "FILE_MISSING",
        `GOOGLE_APPLICATION_CREDENTIALS names ${envFile}, which does not exist`,
        {
          cause: err,
          searched,
        },
      );
    }
    // A file was there (named, or gcloud's) and could not be used; else nothing was found
    // anywhere, the metadata server included.
    if (envFile || existsSync(wellKnownFile())) {
      throw new CredentialsError("FILE_INVALID", `the credentials in ${source} cannot be used`, {
        cause: err,
        searched,
      });
    }
    throw new CredentialsError("NO_CREDENTIALS", "no Application Default Credentials found", {
      cause: err,
      searched,
    });
  }
  const type = typeOf(client);
  const where = type === "gce_metadata" ? "the metadata server" : source;
  try {
    const token = await tokenWithRetries(client, timeoutMs, options);
    let email = (client as { email?: string }).email;
    if (!email && type === "gce_metadata") {
      email = (await withDeadline(auth.getCredentials(), timeoutMs, "reading the account's email"))
        .client_email;
    }
    if (!email && options.identify && token.token) {
      email = await tokenEmail(client as OAuth2Client, token.token, timeoutMs);
    }
    return {
      type,
      email,
      principal: principalOf(email),
      quotaProject: (client as { quotaProjectId?: string }).quotaProjectId ?? undefined,
      source: where,
    };
  } catch (err) {
    const facts = errorFacts(err);
    if (facts.oauthError !== undefined) {
      throw new CredentialsError(
        "REFUSED",
        `the token endpoint refused the credentials from ${where} (${facts.oauthError})`,
        { cause: err, searched, oauthError: facts.oauthError },
      );
    }
    if (facts.systemCode !== undefined) {
      throw new CredentialsError(
        "UNREACHABLE",
        `could not reach ${facts.host ?? "the token endpoint"} to get an access token (${facts.systemCode}) after ${options.tokenAttempts ?? TOKEN_ATTEMPTS} attempts`,
        { cause: err, searched, ...(facts.host ? { host: facts.host } : {}) },
      );
    }
    if (facts.grpcCode === 4) {
      throw new CredentialsError(
        "TIMEOUT",
        `getting an access token did not finish within ${timeoutMs / 1000} s`,
        {
          cause: err,
          searched,
        },
      );
    }
    throw new CredentialsError(
      "REFUSED",
      `could not get an access token with the credentials from ${where}`,
      {
        cause: err,
        searched,
      },
    );
  }
}

/**
 * tokenWithRetries gets an access token, trying again with backoff while the token
 * endpoint cannot be reached (a Node system error code: no answer at all); a refusal
 * (an OAuth error) or a timeout ends it at once.
 */
async function tokenWithRetries(
  client: { getAccessToken(): Promise<{ token?: string | null }> },
  timeoutMs: number,
  options: ResolveCredentialsOptions,
): Promise<{ token?: string | null }> {
  const attempts = options.tokenAttempts ?? TOKEN_ATTEMPTS;
  const clock = options.clock ?? systemClock;
  for (let attempt = 1; ; attempt++) {
    try {
      return await withDeadline(client.getAccessToken(), timeoutMs, "getting an access token");
    } catch (err) {
      const facts = errorFacts(err);
      if (attempt >= attempts || facts.systemCode === undefined || facts.oauthError !== undefined) throw err;
      await clock.sleep(1000 * 2 ** (attempt - 1));
    }
  }
}

/**
 * quietMetadataProbe runs `fn` with gcp-metadata's MetadataLookupWarning kept off stderr:
 * looking for the metadata server off Google Cloud, gcp-metadata warns about any answer
 * it did not expect (a proxy's 403), which would print beside capstan's own message. What
 * capstan tells the user about the metadata server is in its CredentialsError instead.
 */
async function quietMetadataProbe<T>(fn: () => Promise<T>): Promise<T> {
  const original = process.emitWarning;
  const filtered = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === "MetadataLookupWarning") return;
    (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  process.emitWarning = filtered;
  try {
    return await fn();
  } finally {
    if (process.emitWarning === filtered) process.emitWarning = original;
  }
}

/**
 * tokenEmail asks the token endpoint whose token this is (OAuth2Client.getTokenInfo,
 * https://oauth2.googleapis.com/tokeninfo, or the simulator's). Undefined when it does not say.
 */
export async function tokenEmail(
  client: OAuth2Client,
  token: string,
  timeoutMs = 20_000,
): Promise<string | undefined> {
  try {
    const info = await withDeadline(client.getTokenInfo(token), timeoutMs, "reading tokeninfo");
    return info.email ?? undefined;
  } catch {
    return undefined;
  }
}
