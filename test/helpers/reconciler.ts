import { expect } from "vitest";
import { diffManaged, type FieldChange } from "../../src/diff/index.ts";
import type { Gcp } from "../../src/gcp/access.ts";
import { type OperationPoller, type OperationStatus, waitForOperation } from "../../src/gcp/operations.ts";
import type { ResourceKind } from "../../src/plan/model.ts";
import type { Observed, Reconciler, ResourceRef, Scope } from "../../src/reconcilers/types.ts";
import type { Fixture, RequestLogEntry } from "../../src/sim/index.ts";
import { parseSpecSet } from "../../src/spec/load.ts";
import type { Resource } from "../../src/spec/types.ts";
import { connect } from "./gcp.ts";
import { type SimHarness, startSim } from "./sim.ts";

/** SpecLoaderOptions say which file a test's spec documents claim to come from and which defaults they get. */
export interface SpecLoaderOptions {
  /** The path the documents are loaded under, e.g. `specs/database.yaml`. */
  readonly path: string;
  readonly project: string;
  readonly region: string;
}

/**
 * specLoader returns `(name, spec, others?) => Resource<K>`, which loads one `kind`
 * document named `name` whose `spec:` is the given YAML (indented for the caller), plus
 * any `others` documents after it, through the real spec loader with the given defaults.
 * The set must load without problems; the first `kind` resource is returned.
 */
export function specLoader<K extends ResourceKind>(
  kind: K,
  options: SpecLoaderOptions,
): (name: string, spec: string, others?: string) => Resource<K> {
  return (name, spec, others = "") => {
    const body = spec
      .trim()
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n");
    const text = `apiVersion: capstan.dev/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${body}\n${others}`;
    const set = parseSpecSet([{ path: options.path, text }], [], {
      cwd: "/",
      defaults: { project: options.project, region: options.region },
    });
    expect(set.problems).toEqual([]);
    const r = set.resources.find((x) => x.kind === kind);
    if (r?.kind !== kind) throw new Error(`expected a ${kind}`);
    return r as Resource<K>;
  };
}

/** ReconcilerTestOptions bind {@link reconcilerTest} to a reconciler and to the test's current simulator. */
export interface ReconcilerTestOptions<K extends ResourceKind, L> {
  readonly reconciler: Reconciler<K, L>;
  /** The simulator of the running test (tests start a fresh one per test). */
  readonly harness: () => SimHarness;
  /** The Gcp of the running test. */
  readonly gcp: () => Gcp;
  /** refOf names the resource with id `id` in the test's fixture. */
  readonly refOf: (id: string) => ResourceRef;
  /** What an operation is, for timeout messages, e.g. `Cloud SQL update`. */
  readonly what: string;
  /** How long `wait` gives an operation, in simulated milliseconds. */
  readonly timeoutMs: number;
}

/** ReconcilerTest is the harness the reconciler tests share; see {@link reconcilerTest}. */
export interface ReconcilerTest<K extends ResourceKind, L> {
  /** observe reads one resource through the reconciler's `get`; a missing one fails the test. */
  observe(id: string): Promise<Observed<L>>;
  /** diff is what the plan would change on `observed` to reach `spec`. */
  diff(observed: Observed<L>, spec: Resource<K>): FieldChange[];
  /** changesOf observes the resource `spec` names (or `id`) and diffs it against `spec`. */
  changesOf(spec: Resource<K>, id?: string): Promise<{ o: Observed<L>; changes: FieldChange[] }>;
  /** wait follows a write's operation on the simulator's clock; a write that started none fails the test. */
  wait(poller: OperationPoller | undefined): Promise<OperationStatus>;
  /** apply writes the spec's changes, waits for the operation and reads the resource again. */
  apply(spec: Resource<K>): Promise<{ before: Observed<L>; changes: FieldChange[]; after: Observed<L> }>;
  /**
   * listInPages lists `scope` on a fresh simulator seeded with `fixture` and checks what
   * every paged list must do: `count` distinct resources, read in exactly two calls of the
   * RPC whose name ends with `rpc`, the second carrying a page token. It returns those
   * calls and the whole request log, for the kind's own checks.
   */
  listInPages(
    fixture: Fixture,
    scope: Scope,
    count: number,
    rpc: string,
  ): Promise<{ lists: RequestLogEntry[]; requests: readonly RequestLogEntry[] }>;
  /**
   * simItem returns the first resource of a simulator service's dump (the state behind
   * the API, read outside it) in `collection` that `match` accepts.
   */
  simItem<T = Record<string, unknown>>(
    service: string,
    collection: string,
    match: (item: Record<string, unknown>) => boolean,
  ): T;
}

/**
 * reconcilerTest returns the helpers every reconciler test uses, reading the simulator
 * and Gcp of the running test through `options` each time they are called.
 */
export function reconcilerTest<K extends ResourceKind, L>(
  options: ReconcilerTestOptions<K, L>,
): ReconcilerTest<K, L> {
  const rec = options.reconciler;
  const t: ReconcilerTest<K, L> = {
    async observe(id) {
      const o = await rec.get(options.gcp(), options.refOf(id));
      if (!o) throw new Error(`${id} not found`);
      return o;
    },
    diff(observed, spec) {
      return diffManaged(rec.desired(spec), rec.normalize(observed.live), rec.diffOptions);
    },
    async changesOf(spec, id = spec.metadata.name) {
      const o = await t.observe(id);
      return { o, changes: t.diff(o, spec) };
    },
    wait(poller) {
      if (!poller) throw new Error("expected a poller");
      const clock = options.harness().sim.clock;
      return waitForOperation(poller, { clock, timeoutMs: options.timeoutMs, what: options.what });
    },
    async apply(spec) {
      const { o: before, changes } = await t.changesOf(spec);
      const w = await rec.write(options.gcp(), before, spec, changes);
      expect(w.poller).toBeDefined();
      await t.wait(w.poller);
      return { before, changes, after: await t.observe(spec.metadata.name) };
    },
    async listInPages(fixture, scope, count, rpc) {
      const big = await startSim(fixture);
      try {
        const listed = await rec.list(connect(big), scope);
        expect(listed).toHaveLength(count);
        expect(new Set(listed.map((o) => o.name)).size).toBe(count);
        const requests = big.sim.requests();
        const lists = requests.filter((e) => e.rpc.endsWith(rpc));
        expect(lists).toHaveLength(2);
        expect(lists[1]!.query).toMatch(/pageToken=/);
        return { lists, requests };
      } finally {
        await big.close();
      }
    },
    simItem<T>(service: string, collection: string, match: (item: Record<string, unknown>) => boolean): T {
      const dump = options.harness().sim.dump()[service] as Record<string, Record<string, unknown>[]>;
      return dump[collection]!.find(match) as T;
    },
  };
  return t;
}
