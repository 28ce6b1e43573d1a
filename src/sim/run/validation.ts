import protobuf from "protobufjs";
import { checkRunService, type RunServiceLike, type RunViolation } from "../../gcp/catalog/run.ts";
import { normalize } from "../core/codec.ts";
import { invalidArgument } from "../core/errors.ts";
import type { JsonObject } from "../core/types.ts";

function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function fieldOf(type: protobuf.Type, key: string): protobuf.Field | undefined {
  return type.fields[key] ?? type.fieldsArray.find((f) => f.name === key || snakeToCamel(f.name) === key);
}

const DURATION = /^-?\d+(?:\.\d{1,9})?s$/;

/**
 * checkWireValues walks a request message in proto3 JSON and throws the 400 that GCP's
 * front end (ESF) returns for a value the message type cannot hold: an enum name or
 * number the enum does not define, or a Duration that is not `<seconds>s`. The message
 * has ESF's form, `Invalid value at 'service.template.execution_environment'
 * (type.googleapis.com/google.cloud.run.v2.ExecutionEnvironment), "GEN3"`; field paths use
 * the proto (snake_case) names.
 */
export function checkWireValues(type: protobuf.Type, json: unknown, at: string): void {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return;
  for (const [key, value] of Object.entries(json as JsonObject)) {
    const field = fieldOf(type, key);
    if (!field || value === null || value === undefined) continue;
    field.resolve();
    const snake = field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const path = at ? `${at}.${snake}` : snake;
    const items: unknown[] = field.map
      ? Object.values(value as JsonObject)
      : field.repeated && Array.isArray(value)
        ? value
        : [value];
    const t = field.resolvedType;
    for (const [i, item] of items.entries()) {
      const here = field.repeated && !field.map ? `${path}[${i}]` : path;
      if (t instanceof protobuf.Enum) {
        const known =
          typeof item === "number" ? t.valuesById[item] !== undefined : t.values[String(item)] !== undefined;
        if (!known) {
          throw invalidArgument(
            `Invalid value at '${here}' (type.googleapis.com/${t.fullName.slice(1)}), ${JSON.stringify(item)}`,
            { fieldViolations: [{ field: here, description: `Invalid value ${JSON.stringify(item)}` }] },
          );
        }
      } else if (t instanceof protobuf.Type) {
        if (t.fullName === ".google.protobuf.Duration") {
          if (typeof item !== "string" || !DURATION.test(item)) {
            const description = `Invalid value at '${here}' (type.googleapis.com/google.protobuf.Duration), Field '${field.name}', Illegal duration format; duration must end with 's'`;
            throw invalidArgument(description, { fieldViolations: [{ field: here, description }] });
          }
        } else if (!t.fullName.startsWith(".google.protobuf.")) {
          checkWireValues(t, item, here);
        }
      }
    }
  }
}

function isDefault(field: protobuf.Field, value: unknown): boolean {
  if (field.map) return value !== null && typeof value === "object" && Object.keys(value).length === 0;
  if (field.repeated) return Array.isArray(value) && value.length === 0;
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum) return value === t.valuesById[0] || value === 0;
  if (t instanceof protobuf.Type) return false;
  return value === "" || value === 0 || value === "0" || value === false;
}

/**
 * pruneDefaults drops fields that hold their proto3 default: "", 0, false, the zero enum,
 * empty lists and maps. A client that sends back a whole message it read (the Node client
 * serialises every field) then compares equal to one that sends only what it set, as on
 * the wire of GCP. Oneof members and proto3 `optional` fields keep their zero values
 * because for them presence is meaningful; so do messages (`tcpSocket: {}` is a probe).
 */
export function pruneDefaults(type: protobuf.Type, json: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(json)) {
    const field = fieldOf(type, key);
    if (!field || value === null || value === undefined) continue;
    field.resolve();
    if (!field.partOf && isDefault(field, value)) continue;
    const t = field.resolvedType;
    if (t instanceof protobuf.Type && !t.fullName.startsWith(".google.protobuf.")) {
      if (field.map) {
        out[key] = Object.fromEntries(
          Object.entries(value as JsonObject).map(([k, v]) => [k, pruneDefaults(t, v as JsonObject)]),
        );
      } else if (Array.isArray(value)) {
        out[key] = value.map((v) => pruneDefaults(t, v as JsonObject));
      } else {
        out[key] = pruneDefaults(t, value as JsonObject);
      }
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * decodeMessage checks a proto3-JSON message's wire values and returns it in the
 * simulator's canonical form: round-tripped through its type, enums as names, int64 as
 * strings, default values dropped.
 */
export function decodeMessage(type: protobuf.Type, json: JsonObject, at: string): JsonObject {
  checkWireValues(type, json, at);
  return pruneDefaults(type, normalize(type, json));
}

function isOutputOnly(field: protobuf.Field): boolean {
  const behavior = field.options?.["(google.api.field_behavior)"] as unknown;
  return Array.isArray(behavior) ? behavior.includes("OUTPUT_ONLY") : behavior === "OUTPUT_ONLY";
}

/**
 * stripOutputOnly returns a copy of a canonical message without the fields its proto
 * marks OUTPUT_ONLY, at any depth. GCP ignores them in a request, so a client may send
 * back what it read (AIP-203).
 */
export function stripOutputOnly(type: protobuf.Type, json: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(json)) {
    const field = fieldOf(type, key);
    if (!field) continue;
    if (isOutputOnly(field)) continue;
    field.resolve();
    const t = field.resolvedType;
    if (t instanceof protobuf.Type && !t.fullName.startsWith(".google.protobuf.") && !field.map) {
      out[key] = Array.isArray(value)
        ? value.map((v) => stripOutputOnly(t, v as JsonObject))
        : stripOutputOnly(t, value as JsonObject);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * rejectViolations throws GCP's 400 INVALID_ARGUMENT for the violations GCP enforces
 * (severity `reject`): the first one is the message, all of them are BadRequest field
 * violations. Advisory violations are ignored, as the API accepts them.
 */
export function rejectViolations(violations: readonly RunViolation[]): void {
  const rejected = violations.filter((v) => v.severity === "reject");
  const first = rejected[0];
  if (!first) return;
  throw invalidArgument(`${first.field}: ${first.description}`, {
    fieldViolations: rejected.map((v) => ({ field: v.field, description: v.description })),
  });
}

/** validateServiceSpec throws GCP's 400 when a Service's desired state breaks a platform rule. */
export function validateServiceSpec(spec: JsonObject): void {
  rejectViolations(checkRunService(spec as RunServiceLike));
}
