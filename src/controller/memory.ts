import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type GcFunction = (options?: {
  type?: "major" | "minor";
  execution?: "sync" | "async";
  flavor?: "regular" | "last-resort";
}) => void;

let collect: GcFunction | undefined;

/**
 * releaseMemory runs one full, memory-reducing garbage collection (the `last-resort`
 * flavour of V8's gc extension: compact, then give freed pages back to the system).
 *
 * Why: `capstan run` works for a fraction of a second every few minutes. During a pass
 * V8 grows its heap, and after it keeps the freed pages for the next one; its own memory
 * reducer returns them only some of the time (bench/run-steady.ts: with 1,000 resources
 * RSS settles around 230-250 MB while the heap holds ~56 MB). Reducing after each pass
 * brings it back to ~160 MB, for one full collection per pass.
 *
 * `gc` is the global that `--expose-gc` defines (allowed in NODE_OPTIONS since Node
 * 22.3, nodejs/node#53078; the Dockerfile sets it). Without the flag, setting it at run
 * time does not define the global in the running context (nodejs/node#16595), but a new
 * context gets it; that is the fallback.
 */
export function releaseMemory(): void {
  if (!collect) {
    const global = (globalThis as { gc?: GcFunction }).gc;
    if (global) collect = global;
    else {
      setFlagsFromString("--expose-gc");
      collect = runInNewContext("gc") as GcFunction;
    }
  }
  collect({ type: "major", execution: "sync", flavor: "last-resort" });
}
