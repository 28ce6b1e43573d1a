import type { ResourceRef } from "../reconcilers/types.ts";

const CONSOLE = "https://console.cloud.google.com";

/**
 * consoleUrl links a resource to its page in the Google Cloud console, where a person
 * looks next. The console's paths are not an API and have no reference; these are the
 * detail pages the console itself opens for each kind.
 */
export function consoleUrl(ref: ResourceRef): string {
  const project = `?project=${encodeURIComponent(ref.project)}`;
  const id = encodeURIComponent(ref.id);
  const location = encodeURIComponent(ref.location);
  switch (ref.kind) {
    case "CloudRunService":
      return `${CONSOLE}/run/detail/${location}/${id}/metrics${project}`;
    case "SqlInstance":
      return `${CONSOLE}/sql/instances/${id}/overview${project}`;
    case "VpcConnector":
      return `${CONSOLE}/networking/connectors/details/${location}/${id}${project}`;
    case "BackendService":
      return `${CONSOLE}/net-services/loadbalancing/backends/details/backendService/${id}${project}`;
    case "HealthCheck":
      return `${CONSOLE}/compute/healthChecks/details/${id}${project}`;
  }
}
