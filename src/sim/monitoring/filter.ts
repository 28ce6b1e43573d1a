/**
 * The subset of the Cloud Monitoring filter language that metric gates use
 * (https://cloud.google.com/monitoring/api/v3/filters): equality restrictions on
 * `metric.type`, `resource.type`, `metric.labels.KEY` and `resource.labels.KEY` (the
 * singular `metric.label.KEY`/`resource.label.KEY` spelling is accepted too, as GCP does),
 * joined by `AND`. Values are quoted strings, double- or single-quoted. Anything else in
 * the language (OR, NOT, parentheses, `!=`, `:`, functions such as `starts_with`,
 * `project`, `metadata.*`) is refused with a message that names it, rather than being
 * half-understood.
 */

/** SeriesFilter is a parsed filter: the one metric type and the label restrictions. */
export interface SeriesFilter {
  readonly metricType: string;
  readonly resourceType: string | undefined;
  readonly resourceLabels: Readonly<Record<string, string>>;
  readonly metricLabels: Readonly<Record<string, string>>;
}

/** FilterError is a filter the simulator cannot use; `reason` says why, for the 400 it becomes. */
export class FilterError extends Error {
  readonly code = "INVALID_FILTER";
  readonly reason: string;

  constructor(reason: string) {
    super(reason);
    this.name = "FilterError";
    this.reason = reason;
  }
}

type Token =
  | { readonly kind: "word"; readonly text: string; readonly at: number }
  | { readonly kind: "string"; readonly text: string; readonly at: number }
  | { readonly kind: "op"; readonly text: string; readonly at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      let text = "";
      let j = i + 1;
      for (; j < src.length && src[j] !== ch; j++) {
        if (src[j] === "\\" && j + 1 < src.length) j++;
        text += src[j];
      }
      if (j >= src.length) throw new FilterError(`unterminated string starting at offset ${i}`);
      out.push({ kind: "string", text, at: i });
      i = j + 1;
      continue;
    }
    const op = /^(!=|>=|<=|=~|!~|[=:<>()!,-])/.exec(src.slice(i));
    if (op) {
      out.push({ kind: "op", text: op[1]!, at: i });
      i += op[1]!.length;
      continue;
    }
    const word = /^[A-Za-z0-9_.\-/]+/.exec(src.slice(i));
    if (!word) throw new FilterError(`unexpected character \`${ch}\` at offset ${i}`);
    out.push({ kind: "word", text: word[0], at: i });
    i += word[0].length;
  }
  return out;
}

/**
 * parseFilter parses a ListTimeSeries filter. It throws a FilterError when the filter is
 * malformed, uses syntax outside the supported subset, or does not name exactly one
 * metric type ("The filter must specify a single metric type", ListTimeSeriesRequest.filter).
 */
export function parseFilter(filter: string): SeriesFilter {
  const tokens = tokenize(filter);
  let metricType: string | undefined;
  let resourceType: string | undefined;
  const resourceLabels: Record<string, string> = {};
  const metricLabels: Record<string, string> = {};
  let i = 0;
  for (;;) {
    const sel = tokens[i];
    if (!sel) throw new FilterError('expected a restriction such as metric.type = "..."');
    if (sel.kind === "op" && sel.text === "(") {
      throw new FilterError(
        "parentheses are not supported by the capstan simulator; join restrictions with AND",
      );
    }
    if (sel.kind === "word" && (sel.text === "NOT" || sel.text === "-")) {
      throw new FilterError("NOT is not supported by the capstan simulator");
    }
    if (sel.kind !== "word") throw new FilterError(`expected a selector at offset ${sel.at}`);
    const op = tokens[i + 1];
    if (op?.kind === "op" && op.text === "(") {
      throw new FilterError(`function \`${sel.text}(...)\` is not supported by the capstan simulator`);
    }
    if (op?.kind !== "op" || op.text !== "=") {
      throw new FilterError(
        `only \`=\` comparisons are supported by the capstan simulator, got \`${op?.text ?? "end of filter"}\` after ${sel.text}`,
      );
    }
    const value = tokens[i + 2];
    if (value?.kind === "word" && tokens[i + 3]?.kind === "op" && tokens[i + 3]?.text === "(") {
      throw new FilterError(`function \`${value.text}(...)\` is not supported by the capstan simulator`);
    }
    if (value?.kind !== "string") {
      throw new FilterError(`the value of ${sel.text} must be a quoted string`);
    }
    const label = /^(metric|resource)\.labels?\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(sel.text);
    if (sel.text === "metric.type") {
      if (metricType !== undefined && metricType !== value.text) {
        throw new FilterError("The filter must specify a single metric type");
      }
      metricType = value.text;
    } else if (sel.text === "resource.type") {
      resourceType = value.text;
    } else if (label) {
      (label[1] === "metric" ? metricLabels : resourceLabels)[label[2]!] = value.text;
    } else {
      throw new FilterError(
        `selector \`${sel.text}\` is not supported by the capstan simulator; use metric.type, resource.type, metric.labels.KEY or resource.labels.KEY`,
      );
    }
    i += 3;
    const next = tokens[i];
    if (!next) break;
    if (next.kind === "word" && next.text === "AND") {
      i++;
      continue;
    }
    if (next.kind === "word" && next.text === "OR") {
      throw new FilterError("OR is not supported by the capstan simulator; join restrictions with AND");
    }
    throw new FilterError(`expected AND at offset ${next.at}, got \`${next.text}\``);
  }
  if (metricType === undefined) {
    throw new FilterError('The filter must specify a single metric type (metric.type = "...")');
  }
  return { metricType, resourceType, resourceLabels, metricLabels };
}

/** SeriesLabels is the identity of one time series, as matched by a filter. */
export interface SeriesLabels {
  readonly resource: { readonly type: string; readonly labels: Readonly<Record<string, string>> };
  readonly metricLabels: Readonly<Record<string, string>>;
}

/** matchesFilter says whether a series of the filter's metric type passes its restrictions. */
export function matchesFilter(f: SeriesFilter, s: SeriesLabels): boolean {
  if (f.resourceType !== undefined && f.resourceType !== s.resource.type) return false;
  for (const [k, v] of Object.entries(f.resourceLabels)) if (s.resource.labels[k] !== v) return false;
  for (const [k, v] of Object.entries(f.metricLabels)) if (s.metricLabels[k] !== v) return false;
  return true;
}
