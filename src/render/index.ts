export { renderJson } from "./json.ts";
export { renderMarkdown } from "./markdown.ts";
export {
  describeDisruption,
  formatValue,
  renderText,
  summaryLine,
  type TextOptions,
  useColor,
} from "./text.ts";
