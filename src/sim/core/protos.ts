import { createRequire } from "node:module";
import protobuf from "protobufjs";

const require = createRequire(import.meta.url);

/** ClientPackage names a Google client library whose bundled protos describe an API. */
export type ClientPackage =
  | "run"
  | "sql"
  | "vpc-access"
  | "compute"
  | "secret-manager"
  | "monitoring"
  | "resource-manager"
  | "service-usage";

const roots = new Map<ClientPackage, protobuf.Root>();

/**
 * loadRoot returns the protobuf root of the googleapis protos that a client library
 * ships (build/protos/protos.json). The simulator decodes requests and encodes responses
 * with the very descriptors the client uses, so field names, int64-as-string and enum
 * encodings cannot drift from what the client expects.
 */
export function loadRoot(pkg: ClientPackage): protobuf.Root {
  let root = roots.get(pkg);
  if (!root) {
    const json = require(`@google-cloud/${pkg}/build/protos/protos.json`) as protobuf.INamespace;
    root = protobuf.Root.fromJSON(json);
    root.resolveAll();
    roots.set(pkg, root);
  }
  return root;
}

/** HttpRule is one `google.api.http` binding of an RPC. */
export interface HttpRule {
  readonly method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Path template, e.g. `/v2/{service.name=projects/* /locations/* /services/*}` (without spaces). */
  readonly template: string;
  /** `*` for the whole request, a field name, or undefined for no body. */
  readonly body?: string | undefined;
}

/** RpcDescriptor is one method of a proto service together with its HTTP bindings. */
export interface RpcDescriptor {
  /** Full name, e.g. `google.cloud.run.v2.Services.UpdateService`. */
  readonly fullName: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  readonly rules: readonly HttpRule[];
}

const VERBS = ["get", "post", "patch", "put", "delete"] as const;

function rulesOf(options: Record<string, unknown> | undefined, parsed: unknown[] | undefined): HttpRule[] {
  const rules: HttpRule[] = [];
  const push = (o: Record<string, unknown>) => {
    for (const verb of VERBS) {
      const template = o[verb];
      if (typeof template === "string") {
        rules.push({
          method: verb.toUpperCase() as HttpRule["method"],
          template,
          body: typeof o["body"] === "string" ? (o["body"] as string) : undefined,
        });
      }
    }
  };
  const http = parsed
    ?.map((p) => (p as Record<string, unknown>)["(google.api.http)"])
    .find((h) => h !== undefined) as Record<string, unknown> | undefined;
  if (http) {
    push(http);
    const extra = http["additional_bindings"];
    for (const b of Array.isArray(extra) ? extra : extra ? [extra] : []) push(b as Record<string, unknown>);
  } else if (options) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) {
      if (k.startsWith("(google.api.http).")) o[k.slice("(google.api.http).".length)] = v;
    }
    push(o);
  }
  return rules;
}

/**
 * rpcsOf lists the methods of a proto service with their HTTP rules, as the REST
 * transport of the client library transcodes them.
 */
export function rpcsOf(root: protobuf.Root, serviceFullName: string): RpcDescriptor[] {
  const service = root.lookupService(serviceFullName);
  return service.methodsArray.map((m) => {
    m.resolve();
    const raw = m as unknown as { options?: Record<string, unknown>; parsedOptions?: unknown[] };
    return {
      fullName: `${serviceFullName}.${m.name}`,
      requestType: m.resolvedRequestType!,
      responseType: m.resolvedResponseType!,
      rules: rulesOf(raw.options, raw.parsedOptions),
    };
  });
}

/**
 * rpc builds a descriptor for a method whose HTTP rule lives in the client's code rather
 * than in the protos (the google.longrunning.Operations mixins each client configures).
 */
export function rpc(
  root: protobuf.Root,
  fullName: string,
  requestType: string,
  responseType: string,
  rules: HttpRule[],
): RpcDescriptor {
  return {
    fullName,
    requestType: root.lookupType(requestType),
    responseType: root.lookupType(responseType),
    rules,
  };
}

/** CompiledRoute matches a request path against one HTTP rule. */
export interface CompiledRoute {
  readonly method: HttpRule["method"];
  readonly regex: RegExp;
  /** Field path (dotted) for each capture group, in order. */
  readonly fields: readonly string[];
  readonly body: string | undefined;
  readonly rpc: RpcDescriptor;
  readonly template: string;
}

/**
 * compileRule turns a google.api.http path template into a regular expression.
 * Template syntax (google/api/http.proto): `{field=pattern}` captures a field, `*`
 * matches one segment, `**` any number; `{field}` alone is `{field=*}`; a trailing
 * `:verb` is literal.
 */
export function compileRule(rule: HttpRule, rpcDesc: RpcDescriptor): CompiledRoute {
  const fields: string[] = [];
  let pattern = "";
  const tpl = rule.template;
  let i = 0;
  const segmentPattern = (p: string) =>
    p
      .split("/")
      .map((s) => (s === "**" ? ".+" : s === "*" ? "[^/]+" : escapeRe(s)))
      .join("/");
  while (i < tpl.length) {
    const open = tpl.indexOf("{", i);
    if (open < 0) {
      pattern += segmentPattern(tpl.slice(i));
      break;
    }
    pattern += segmentPattern(tpl.slice(i, open));
    const close = tpl.indexOf("}", open);
    const inner = tpl.slice(open + 1, close);
    const eq = inner.indexOf("=");
    const field = eq < 0 ? inner : inner.slice(0, eq);
    const sub = eq < 0 ? "*" : inner.slice(eq + 1);
    fields.push(field);
    pattern += `(${segmentPattern(sub)})`;
    i = close + 1;
  }
  return {
    method: rule.method,
    regex: new RegExp(`^${pattern}$`),
    fields,
    body: rule.body,
    rpc: rpcDesc,
    template: rule.template,
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
