export { renderJson } from "./json.ts";
export { renderMarkdown } from "./markdown.ts";
export { renderMermaid } from "./mermaid.ts";
export { type RolloutReportInput, renderRolloutReport } from "./report.ts";
export {
  describeDisruption,
  formatValue,
  renderText,
  summaryLine,
  type TextOptions,
  useColor,
} from "./text.ts";
