import type { InvariantResult } from "../capacity/invariants.ts";
import type { Step } from "../plan/steps.ts";

/** ProgressEvent is one thing the executor did, for people (progress lines) and logs. */
export type ProgressEvent =
  | { readonly type: "step-start"; readonly step: Step; readonly total: number }
  | { readonly type: "write"; readonly address: string; readonly fields: readonly string[] }
  | { readonly type: "skip"; readonly address: string; readonly reason: string }
  | { readonly type: "operation-wait"; readonly address: string; readonly what: string }
  | { readonly type: "operation-done"; readonly address: string; readonly elapsedMs: number }
  | {
      readonly type: "conflict";
      readonly address: string;
      readonly attempt: number;
      readonly message: string;
    }
  | { readonly type: "ready-wait"; readonly address: string; readonly reason: string }
  | { readonly type: "ready"; readonly address: string; readonly elapsedMs: number }
  | { readonly type: "settle"; readonly seconds: number }
  | {
      readonly type: "window-wait";
      readonly address: string;
      readonly window: string;
      readonly waitMs: number;
    }
  | {
      readonly type: "gate";
      readonly gate: string;
      readonly subject: string;
      readonly value: number | undefined;
      readonly threshold: number;
      readonly ok: boolean;
      readonly sample: number;
      /** The value before the step, when the gate judges the step by "not worse". */
      readonly baseline?: number | undefined;
    }
  | { readonly type: "invariants"; readonly results: readonly InvariantResult[] }
  | { readonly type: "step-done"; readonly step: Step; readonly elapsedMs: number }
  | { readonly type: "rollback"; readonly address: string; readonly fields: readonly string[] }
  | { readonly type: "stopped"; readonly reason: string };

/** ProgressSink receives progress events. */
export type ProgressSink = (event: ProgressEvent) => void;

/** teeProgress sends each event to every sink, in order (progress lines and a rollout recorder). */
export function teeProgress(...sinks: readonly ProgressSink[]): ProgressSink {
  return (e) => {
    for (const sink of sinks) sink(e);
  };
}

function num(v: number | undefined): string {
  return v === undefined ? "no data" : String(Number(v.toPrecision(4)));
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

/**
 * textProgress prints events as lines a person can follow, each prefixed with the
 * clock time elapsed since the apply started.
 */
export function textProgress(write: (line: string) => void, now: () => number): ProgressSink {
  const start = now();
  const line = (s: string) => write(`[${secs(now() - start).padStart(7)}] ${s}\n`);
  return (e) => {
    switch (e.type) {
      case "step-start":
        line(
          `step ${e.step.index}/${e.total}: ${e.step.changes.length} change(s)${e.step.disruption ? `, ${e.step.disruption.kind}` : ""}`,
        );
        break;
      case "write":
        line(`  ${e.address}: writing ${e.fields.join(", ")}`);
        break;
      case "skip":
        line(`  ${e.address}: ${e.reason}`);
        break;
      case "operation-wait":
        line(`  ${e.address}: waiting for ${e.what}`);
        break;
      case "operation-done":
        line(`  ${e.address}: operation done after ${secs(e.elapsedMs)}`);
        break;
      case "conflict":
        line(`  ${e.address}: conflict (attempt ${e.attempt}), re-reading: ${e.message}`);
        break;
      case "ready-wait":
        line(`  ${e.address}: not ready yet (${e.reason})`);
        break;
      case "ready":
        line(`  ${e.address}: ready after ${secs(e.elapsedMs)}`);
        break;
      case "window-wait":
        line(`  ${e.address}: waiting ${secs(e.waitMs)} for its maintenance window (${e.window})`);
        break;
      case "settle":
        line(`  settling for ${e.seconds}s`);
        break;
      case "gate":
        line(
          `  gate ${e.gate} on ${e.subject}: ${num(e.value)} vs threshold ${e.threshold}${
            e.baseline === undefined ? "" : `, ${num(e.baseline)} before the step`
          } → ${e.ok ? "pass" : "FAIL"} (sample ${e.sample})`,
        );
        break;
      case "invariants":
        for (const r of e.results) line(`  ${r.ok ? "✓" : "✗"} ${r.explanation}`);
        break;
      case "step-done":
        line(`step ${e.step.index} done in ${secs(e.elapsedMs)}`);
        break;
      case "rollback":
        line(`  ${e.address}: ROLLING BACK ${e.fields.join(", ")}`);
        break;
      case "stopped":
        line(`stopped: ${e.reason}`);
        break;
    }
  };
}
