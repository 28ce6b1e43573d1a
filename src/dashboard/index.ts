/**
 * The public face of src/dashboard: the web views of `capstan run` (the page at `/`, its
 * JSON, the recent-events ring and its Server-Sent Events stream), fed by the
 * controller's typed events.
 */
export { consoleUrl } from "./console.ts";
export {
  type DashboardEvent,
  type DashboardEventType,
  DashboardFeed,
  type DashboardFeedOptions,
  type FeedChange,
  type PendingChange,
  type PlanDigest,
} from "./feed.ts";
export { renderDashboard } from "./page.ts";
export { Dashboard, type DashboardOptions, EVENTS_KIND, type EventsDoc } from "./routes.ts";
export { buildDashboard, DASHBOARD_KIND, type DashboardDoc } from "./view.ts";
