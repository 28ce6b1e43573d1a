import type { Gcp } from "./access.ts";
import { type CallMeta, Code, errorCode, type GaxCallOptions, gaxCallOptions } from "./call.ts";

/** PageRequest is what {@link listAllPages} adds to a list request: no token for the first page, then the last answer's. */
export type PageRequest = { readonly pageToken?: string };

/**
 * PageCallOptions are the gax options of one page: capstan's (no library retries) with
 * auto-pagination off, so each page is one call under `gcp.call`.
 */
export type PageCallOptions = GaxCallOptions & { readonly autoPaginate: false };

/**
 * PageAnswer is what a gax list method resolves to with `autoPaginate: false`: the page's
 * items, the next request, and the raw response carrying `nextPageToken`.
 */
export type PageAnswer<T> = readonly [
  readonly T[],
  unknown,
  { readonly nextPageToken?: string | null } | null | undefined,
];

/**
 * listAllPages reads every page of a list, one `gcp.call` under `meta` per page, and
 * returns all items in order. `fetchPage` makes the client call for one page: it spreads
 * `page` into its request and passes `options` through (a fresh object per call, since
 * the clients write routing headers into their options). An empty or absent
 * `nextPageToken` ends the list (https://google.aip.dev/158).
 */
export async function listAllPages<T>(
  gcp: Gcp,
  meta: CallMeta,
  fetchPage: (page: PageRequest, options: PageCallOptions) => Promise<PageAnswer<T>>,
  signal?: AbortSignal,
): Promise<T[]> {
  const out: T[] = [];
  let page: PageRequest = {};
  for (;;) {
    const [items, , raw] = await gcp.call(
      meta,
      () => fetchPage(page, { ...gaxCallOptions(), autoPaginate: false }),
      signal,
    );
    out.push(...items);
    const pageToken = raw?.nextPageToken;
    if (!pageToken) return out;
    page = { pageToken };
  }
}

/**
 * getOrUndefined runs a read and answers undefined when it fails with NOT_FOUND: a missing
 * resource is undefined, not an exception. Any other error is thrown as it came.
 */
export async function getOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (errorCode(err) === Code.NOT_FOUND) return undefined;
    throw err;
  }
}
