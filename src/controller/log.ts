import pino, { type DestinationStream, type Logger } from "pino";
import type { Clock } from "../clock/index.ts";

/**
 * SEVERITY maps pino levels to Cloud Logging's LogSeverity names
 * (https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#logseverity), which
 * Cloud Logging reads from a JSON line's `severity` field
 * (https://cloud.google.com/logging/docs/structured-logging#special-payload-fields).
 */
const SEVERITY: Readonly<Record<string, string>> = {
  trace: "DEBUG",
  debug: "DEBUG",
  info: "INFO",
  warn: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

/** LABELS_KEY is the special field whose string map Cloud Logging turns into the entry's labels. */
export const LABELS_KEY = "logging.googleapis.com/labels";

/** SECRET_KEY matches the names of fields whose values must never reach a log. */
const SECRET_KEY = /password|passwd|passphrase|token|secret|credential|api[-_]?key|private[-_]?key/i;

/**
 * BINDING_SECRETS are the names redacted in child-logger bindings, which pino serializes
 * once at `child()` without the `log` formatter: pino's own path-based `redact` covers them.
 */
const BINDING_SECRETS = [
  "password",
  "token",
  "secret",
  "accessToken",
  "refreshToken",
  "idToken",
  "clientSecret",
  "apiKey",
  "credentials",
];

/**
 * looksSecret says whether a field or variable name looks like it holds a secret, by the
 * rule the logs redact with; the dashboard and the rollout report hide such values too.
 */
export function looksSecret(name: string): boolean {
  return SECRET_KEY.test(name);
}

/** REDACTED replaces a secret value. */
export const REDACTED = "[REDACTED]";

/**
 * redact returns `value` with every field whose name looks like it holds a secret
 * (password, token, secret, credential, API or private key) replaced by REDACTED, at any
 * depth. pino's own `redact` takes fixed paths only; these names can appear anywhere (an
 * env var named DB_PASSWORD inside a change, a token inside an error's details).
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 12 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

/**
 * oneMessageKey renames a logged field called `message` to `detail`: pino writes the
 * line's message under the same key (`messageKey`), and a JSON line with two `message`
 * keys is read differently by different parsers (Cloud Logging keeps one of them).
 */
export function oneMessageKey(object: Record<string, unknown>): Record<string, unknown> {
  if (!("message" in object)) return object;
  const { message, ...rest } = object;
  return { ...rest, ["detail" in rest ? "messageField" : "detail"]: message };
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Timestamps come from this clock, so scaled runs log scaled time. */
  readonly clock: Clock;
  /**
   * Minimum pino level.
   * @default "info"
   */
  readonly level?: string;
  /**
   * Labels on every entry (Cloud Logging `labels`), e.g. the instance identity.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Where lines go.
   * @default stdout
   */
  readonly destination?: DestinationStream | undefined;
}

/**
 * createLogger builds the pino logger of `capstan run`: one JSON line per entry in the
 * structured format Cloud Logging reads (`severity`, `message`, `time`,
 * `logging.googleapis.com/labels`), with secret-looking fields redacted: by name
 * pattern at any depth in logged objects, by the usual names in child bindings. Per STYLE.md,
 * messages are fixed strings and data goes in fields; each reconcile logs through
 * `logger.child({kind, name, reconcileId})`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const { clock } = options;
  return pino(
    {
      level: options.level ?? "info",
      messageKey: "message",
      redact: { paths: [...BINDING_SECRETS, ...BINDING_SECRETS.map((k) => `*.${k}`)], censor: REDACTED },
      base: { [LABELS_KEY]: { app: "capstan", ...(options.labels ?? {}) } },
      timestamp: () => `,"time":"${new Date(clock.now()).toISOString()}"`,
      formatters: {
        level: (label) => ({ severity: SEVERITY[label] ?? "DEFAULT" }),
        log: (object) => oneMessageKey(redact(object) as Record<string, unknown>),
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
