import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type ApplyReport, gateTargets } from "../apply/execute.ts";
import { type GateSeries, readGateHistory } from "../apply/gate-history.ts";
import type { GateReader } from "../apply/gates.ts";
import { RolloutRecorder } from "../apply/record.ts";
import type { Clock } from "../clock/index.ts";
import type { Gcp } from "../gcp/access.ts";
import type { PlanResult } from "../plan/build.ts";
import type { Criterion } from "../render/criteria.ts";
import { renderRolloutReport } from "../render/report.ts";
import { UserError } from "./errors.ts";

/** CHART_LEAD_MS is how much of the time before the rollout its charts show, for comparison. */
const CHART_LEAD_MS = 30 * 60_000;

/** Options of {@link startRolloutReport}. */
export interface RolloutReportOptions {
  readonly result: PlanResult;
  readonly gcp: Gcp;
  readonly clock: Clock;
  readonly gates: GateReader;
  /** Each gate target's value before (in {@link gateTargets} order); read now when omitted. */
  readonly before?: readonly (number | undefined)[] | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** WriteOptions say where a report goes and what it is called. */
export interface WriteReportOptions {
  readonly file: string;
  /** What ran, e.g. `capstan apply specs/staging`. */
  readonly title: string;
  /**
   * Each gate target's value after; by default the end-to-end verification's last sample
   * of each, or a fresh read where the rollout stopped before verifying.
   */
  readonly after?: readonly (number | undefined)[] | undefined;
}

/** RolloutReportSession records one rollout for its report: give `progress` to execute, then `write`. */
export interface RolloutReportSession {
  readonly recorder: RolloutRecorder;
  /** write finishes the record with the executor's report, writes the HTML file and returns its absolute path. */
  write(report: ApplyReport, options: WriteReportOptions): Promise<string>;
}

/**
 * startRolloutReport begins recording a rollout for `capstan apply --report` and the
 * demo: it reads every gate once (the "before" column) unless given, and returns the
 * recorder to pass to execute beside the progress lines.
 */
export async function startRolloutReport(options: RolloutReportOptions): Promise<RolloutReportSession> {
  const { result, gcp, clock, gates, signal } = options;
  const targets = gateTargets(result, undefined);
  const read = () => Promise.all(targets.map((t) => gates(t.gate, t.subject, signal).catch(() => undefined)));
  const before = options.before ?? (await read());
  const recorder = new RolloutRecorder({ clock, steps: result.steps.steps, start: result.steps.start });
  return {
    recorder,
    async write(report, w) {
      const record = recorder.finish(report);
      const verified = targets.map(
        (t) =>
          record.samples.findLast(
            (s) => s.step === undefined && s.metric === t.gate.metric && s.subject === t.subject.address,
          )?.value,
      );
      const after = w.after ?? (verified.some((v) => v !== undefined) ? verified : await read());
      const criteria: Criterion[] = targets.map((t, i) => ({
        metric: t.gate.metric,
        subject: t.subject.address,
        failWhen: t.gate.failWhen,
        threshold: t.gate.threshold,
        before: before[i],
        after: after[i],
      }));
      const end = clock.now();
      const chartStartMs = record.startedAt - CHART_LEAD_MS;
      let history: GateSeries[] = [];
      let historyError: string | undefined;
      try {
        history = await readGateHistory(gcp, targets, chartStartMs, end, signal);
      } catch (err) {
        historyError = `could not read the gate metrics from Cloud Monitoring: ${err instanceof Error ? err.message : String(err)}`;
      }
      const html = renderRolloutReport({
        title: w.title,
        plan: result.plan,
        record,
        history,
        historyError,
        criteria,
        generatedAt: end,
        chartStartMs,
        chartEndMs: end,
      });
      const path = resolve(w.file);
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, html);
      } catch (err) {
        throw new UserError(
          `could not write the rollout report to ${path}: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
      return path;
    },
  };
}
