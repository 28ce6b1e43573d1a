/**
 * Sharding `capstan run` by project, for fleets beyond one process: `--shard I/N` owns
 * the resources of the projects that hash to shard I, each shard with its own lease.
 *
 * The hash is rendezvous (highest random weight) hashing on the project id (Thaler and
 * Ravishankar, "Using name-based mappings to increase hit rates", IEEE/ACM ToN 1998):
 * a project belongs to the shard with the highest hash of (shard, project). It depends on
 * the project id and N only, not on which other projects the specs hold, so every shard
 * computes the same owner for a project even while two shards briefly run different
 * revisions of the specs: no project is ever written by two shards. Changing N moves
 * only the projects whose highest shard changed (about 1/N of them).
 *
 * A CapacityPolicy relates resources that must change in one ordered rollout, so all
 * its members must fall in one shard; a spec set where one policy spans shards is refused
 * (by every shard, so the refusal is seen wherever one looks), nothing is changed.
 */
import { createHash } from "node:crypto";
import type { Problem, SpecSet } from "../spec/types.ts";
import type { SpecSnapshot, SpecSource } from "./source.ts";

/** Shard is one shard of N. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** parseShard reads `--shard I/N` (0 ≤ I < N); undefined when it is malformed. */
export function parseShard(value: string): Shard | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(count >= 1 && count <= 1000 && index < count)) return undefined;
  return { index, count };
}

const owners = new Map<string, number>();

/** shardOf is the shard of a project among `count`, by rendezvous hashing. */
export function shardOf(project: string, count: number): number {
  const key = `${count}/${project}`;
  let owner = owners.get(key);
  if (owner !== undefined) return owner;
  let best = -1n;
  owner = 0;
  for (let i = 0; i < count; i++) {
    const weight = createHash("sha256").update(`${i}\u0000${project}`).digest().readBigUInt64BE(0);
    if (weight > best) {
      best = weight;
      owner = i;
    }
  }
  owners.set(key, owner);
  return owner;
}

function projectOfName(name: string): string | undefined {
  return /^projects\/([^/]+)\//.exec(name)?.[1];
}

/**
 * shardSpecs keeps the resources of the projects in `shard`, and refuses (as a problem)
 * every CapacityPolicy whose policy and members span shards.
 */
export function shardSpecs(specs: SpecSet, shard: Shard): SpecSet {
  const problems: Problem[] = [];
  for (const r of specs.resources) {
    if (r.kind !== "CapacityPolicy") continue;
    const projects = new Set([r.metadata.project]);
    for (const m of r.spec.members) {
      for (const ref of [m.service, m.sqlInstance, m.connector]) {
        const p = ref ? projectOfName(ref.name) : undefined;
        if (p) projects.add(p);
      }
    }
    const shards = new Map([...projects].map((p) => [p, shardOf(p, shard.count)]));
    if (new Set(shards.values()).size > 1) {
      const pos = r.source.at("/spec/members");
      problems.push({
        file: pos.file,
        line: pos.line,
        col: pos.col,
        kind: r.kind,
        name: r.metadata.name,
        message: `its resources are in projects of different shards (${[...shards].map(([p, s]) => `${p} → shard ${s}`).join(", ")} of ${shard.count}), but one process must roll a policy out: run these projects without --shard, or keep a policy's resources in one project`,
      });
    }
  }
  return {
    files: specs.files,
    problems: [...specs.problems, ...problems],
    resources: specs.resources.filter((r) => shardOf(r.metadata.project, shard.count) === shard.index),
  };
}

/** ShardedSource is a spec source that yields only one shard's resources (see shardSpecs). */
export class ShardedSource implements SpecSource {
  readonly #source: SpecSource;
  readonly shard: Shard;
  /** The last snapshot and its shard, so a steady pass filters nothing again. */
  #last: { from: SpecSnapshot; to: SpecSnapshot } | undefined;

  constructor(source: SpecSource, shard: Shard) {
    this.#source = source;
    this.shard = shard;
  }

  get type(): SpecSource["type"] {
    return this.#source.type;
  }

  get location(): string {
    return this.#source.location;
  }

  get ref(): string | undefined {
    return this.#source.ref;
  }

  poll(): Promise<boolean> {
    return this.#source.poll();
  }

  async snapshot(): Promise<SpecSnapshot> {
    const s = await this.#source.snapshot();
    if (this.#last?.from !== s)
      this.#last = { from: s, to: { ...s, specs: shardSpecs(s.specs, this.shard) } };
    return this.#last.to;
  }

  watch(onChange: () => void): () => void {
    return this.#source.watch?.(onChange) ?? (() => {});
  }
}
