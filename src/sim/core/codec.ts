import { fromProto3JSON, toProto3JSON } from "proto3-json-serializer";
import type protobuf from "protobufjs";
import { invalidArgument } from "./errors.ts";
import type { JsonObject } from "./types.ts";

/** Well-known types whose JSON form is not an object of fields. */
const OPAQUE = new Set([
  ".google.protobuf.Timestamp",
  ".google.protobuf.Duration",
  ".google.protobuf.FieldMask",
  ".google.protobuf.Struct",
  ".google.protobuf.Value",
  ".google.protobuf.ListValue",
  ".google.protobuf.Any",
  ".google.protobuf.BoolValue",
  ".google.protobuf.Int32Value",
  ".google.protobuf.Int64Value",
  ".google.protobuf.UInt32Value",
  ".google.protobuf.UInt64Value",
  ".google.protobuf.StringValue",
  ".google.protobuf.DoubleValue",
  ".google.protobuf.FloatValue",
  ".google.protobuf.BytesValue",
  ".google.protobuf.Empty",
]);

/**
 * fieldByJsonName finds a field by the name a request uses for it: the lowerCamelCase
 * JSON name, or the original snake_case name that google.api.http templates use
 * (`{backend_service}`, `body: "health_check_resource"`).
 */
export function fieldByJsonName(type: protobuf.Type, key: string): protobuf.Field | undefined {
  const direct = type.fields[key] ?? type.fields[snakeToCamel(key)];
  if (direct) return direct;
  // proto3 JSON accepts both the lowerCamelCase json_name and the original field name
  // (https://protobuf.dev/programming-guides/json/).
  return type.fieldsArray.find(
    (f) => (f.options?.["json_name"] as string | undefined) === key || snakeToCamel(f.name) === key,
  );
}

function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * rejectUnknownFields walks a JSON request body against its message type and throws the
 * 400 INVALID_ARGUMENT that GCP's ESF returns for a name it does not know:
 * `Invalid JSON payload received. Unknown name "x" at 'service.template': Cannot find field.`
 */
export function rejectUnknownFields(type: protobuf.Type, json: unknown, at: string): void {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return;
  if (OPAQUE.has(type.fullName)) return;
  const violations: { field: string; description: string }[] = [];
  for (const [key, value] of Object.entries(json as JsonObject)) {
    const field = fieldByJsonName(type, key);
    if (!field) {
      violations.push({
        field: at,
        description: `Invalid JSON payload received. Unknown name "${key}" at '${at}': Cannot find field.`,
      });
      continue;
    }
    field.resolve();
    const child = field.resolvedType;
    if (!child || !("fieldsArray" in child)) continue;
    const path = at ? `${at}.${key}` : key;
    if (field.map) {
      for (const [k, v] of Object.entries((value ?? {}) as JsonObject))
        rejectUnknownFields(child, v, `${path}[${k}]`);
    } else if (field.repeated && Array.isArray(value)) {
      value.forEach((v, i) => {
        rejectUnknownFields(child, v, `${path}[${i}]`);
      });
    } else {
      rejectUnknownFields(child, value, path);
    }
  }
  if (violations.length > 0) {
    throw invalidArgument(violations.map((v) => v.description).join("\n"), { fieldViolations: violations });
  }
}

/**
 * encode serialises a handler's result through the response type, exactly as GCP's ESF
 * does: unknown fields are a simulator bug and throw, int64 become strings, zero values
 * of non-optional fields are omitted, and enums are names unless the caller asked for
 * `$alt=json;enum-encoding=int`.
 */
export function encode(type: protobuf.Type, value: JsonObject, numericEnums: boolean): JsonObject {
  const message = fromProto3JSON(type, value as never);
  if (!message) throw new Error(`simulator produced a null ${type.fullName}`);
  const json = toProto3JSON(message, { numericEnums }) as JsonObject;
  dropEmptyMaps(type, json);
  return json;
}

/**
 * dropEmptyMaps removes map fields with no entries: proto3 JSON serialisers print them as
 * `{}`, but GCP's ESF omits empty maps (and empty repeated fields), as for any default value.
 */
function dropEmptyMaps(type: protobuf.Type, json: unknown): void {
  if (!json || typeof json !== "object" || Array.isArray(json) || OPAQUE.has(type.fullName)) return;
  const obj = json as JsonObject;
  for (const [key, value] of Object.entries(obj)) {
    const field = fieldByJsonName(type, key);
    if (!field) continue;
    if (field.map) {
      if (value && typeof value === "object" && Object.keys(value).length === 0) delete obj[key];
      continue;
    }
    field.resolve();
    const child = field.resolvedType;
    if (!child || !("fieldsArray" in child)) continue;
    if (Array.isArray(value)) for (const v of value) dropEmptyMaps(child, v);
    else dropEmptyMaps(child, value);
  }
}

/**
 * Encoded is a response a handler has already put in wire form, e.g. from a cache of
 * per-resource encodings on a hot path such as a large list page. The server sends
 * `render(numericEnums)` as is instead of encoding the handler's result, so whatever
 * `render` returns must itself come from {@link encode}.
 */
export class Encoded {
  readonly render: (numericEnums: boolean) => JsonObject;

  constructor(render: (numericEnums: boolean) => JsonObject) {
    this.render = render;
  }
}

/**
 * normalize round-trips a message through its type and back to proto3 JSON with enum
 * names, the shape the simulator keeps its state in.
 */
export function normalize(type: protobuf.Type, value: JsonObject): JsonObject {
  return encode(type, value, false);
}

/**
 * setField sets a dotted field path in a request object, coercing a query-string value to
 * the field's JSON type (bools and 32-bit numbers; int64 stays a string as in proto3 JSON).
 */
export function setField(
  type: protobuf.Type,
  target: JsonObject,
  path: string,
  raw: string,
  append: boolean,
): void {
  const parts = path.split(".");
  let t: protobuf.Type | undefined = type;
  let obj = target;
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i]!;
    const field: protobuf.Field | undefined = t ? fieldByJsonName(t, key) : undefined;
    const name = field
      ? ((field.options?.["json_name"] as string | undefined) ?? snakeToCamel(field.name))
      : key;
    if (i === parts.length - 1) {
      const value = coerce(field, raw);
      if (field?.repeated) {
        const list = (append && Array.isArray(obj[name]) ? obj[name] : []) as unknown[];
        list.push(value);
        obj[name] = list;
      } else {
        obj[name] = value;
      }
      return;
    }
    field?.resolve();
    t = field?.resolvedType && "fieldsArray" in field.resolvedType ? field.resolvedType : undefined;
    obj[name] ??= {};
    obj = obj[name] as JsonObject;
  }
}

function coerce(field: protobuf.Field | undefined, raw: string): unknown {
  switch (field?.type) {
    case "bool":
      return raw === "true";
    case "int32":
    case "uint32":
    case "sint32":
    case "fixed32":
    case "sfixed32":
    case "double":
    case "float":
      return Number(raw);
    default:
      return raw;
  }
}
