import type { protos } from "@google-cloud/compute";
import type { Gcp } from "../gcp/access.ts";
import { COMPUTE_API, computeOperationPoller, operationStatusOf } from "../gcp/compute.ts";
import type { OperationPoller } from "../gcp/operations.ts";
import { listAllPages } from "../gcp/read.ts";
import type { Readiness } from "./types.ts";

type IOperation = protos.google.cloud.compute.v1.IOperation;

/**
 * COMPUTE_LIST_PAGE_SIZE is the `maxResults` capstan asks Compute list calls for: the
 * largest the API takes, which is also its default ("Acceptable values are 0 to 500,
 * inclusive. (Default: 500)",
 * https://cloud.google.com/compute/docs/reference/rest/v1/healthChecks/list).
 */
export const COMPUTE_LIST_PAGE_SIZE = 500;

/**
 * computeOperationOf reads the `compute#operation` a Compute write answered with. The
 * client wraps it in a gax LRO whose `latestResponse` is the operation itself (typed as
 * a google.longrunning.Operation, which a Compute operation is not).
 */
function computeOperationOf(lro: { latestResponse?: unknown } | undefined): IOperation | undefined {
  const op = lro?.latestResponse;
  return op && typeof op === "object" ? (op as IOperation) : undefined;
}

/**
 * startedPoller returns the poller of the operation a Compute write started, or
 * undefined when the answer carried none or it is already DONE.
 */
export function startedPoller(
  gcp: Gcp,
  project: string,
  lro: { latestResponse?: unknown } | undefined,
): OperationPoller | undefined {
  const op = computeOperationOf(lro);
  if (!op?.name) return undefined;
  const status = operationStatusOf(op);
  if (status.done && !status.error) return undefined;
  return computeOperationPoller(gcp, project, op.name);
}

/**
 * runningGlobalOperations lists the global operations of a project that are not DONE,
 * optionally only those on one resource (`targetLink`, its URL), following every page.
 * Compute writes land when their operation finishes, and a second write to a resource
 * while one runs is refused with 400 resourceNotReady, so these say which resources are
 * still changing. The filter is evaluated server-side
 * (https://cloud.google.com/compute/docs/reference/rest/v1/globalOperations/list, `filter`).
 */
export async function runningGlobalOperations(
  gcp: Gcp,
  project: string,
  targetLink?: string,
  signal?: AbortSignal,
): Promise<IOperation[]> {
  const filter = targetLink ? `(status != DONE) (targetLink = "${targetLink}")` : "status != DONE";
  const ops = await listAllPages(
    gcp,
    {
      api: COMPUTE_API,
      method: "globalOperations.list",
      write: false,
      location: "global",
      resource: `projects/${project}/global`,
    },
    (page, options) =>
      gcp.clients.compute.globalOperations.list(
        { project, filter, maxResults: COMPUTE_LIST_PAGE_SIZE, ...page },
        options,
      ),
    signal,
  );
  // The filter is the server's; checking again keeps a lenient server from marking a
  // finished resource busy.
  return ops.filter((op) => op.status !== "DONE" && (!targetLink || op.targetLink === targetLink));
}

/**
 * pendingComputeOperation returns a poller for an operation running on the resource at
 * `targetLink` (started by capstan, a person or another tool), or undefined when none is.
 */
export async function pendingComputeOperation(
  gcp: Gcp,
  project: string,
  targetLink: string,
  signal?: AbortSignal,
): Promise<OperationPoller | undefined> {
  const [op] = await runningGlobalOperations(gcp, project, targetLink, signal);
  return op?.name ? computeOperationPoller(gcp, project, op.name) : undefined;
}

/**
 * computeReadiness judges a Compute resource by the operations running on it: Compute
 * applies a write when its operation finishes, so a resource with none pending serves
 * its current configuration and can take the next write.
 */
export function computeReadiness(targetLink: string, running: readonly IOperation[]): Readiness {
  const op = running.find((o) => o.targetLink === targetLink);
  if (!op) return { ready: true };
  return {
    ready: false,
    reason: `${op.operationType ?? "operation"} operation ${op.name ?? ""} is ${op.status ?? "RUNNING"}`,
  };
}
