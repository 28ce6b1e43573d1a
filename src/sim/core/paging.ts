import { invalidArgument } from "./errors.ts";

/** PageOptions are the paging limits of one list method. */
export interface PageOptions {
  /** Page size when the request gives none or 0. */
  readonly defaultSize: number;
  /** Larger requested sizes are clamped to this, as GCP does. */
  readonly maxSize: number;
}

/**
 * paginate slices a list the way GCP list methods do: `pageSize` (0 or absent means the
 * method's default, larger than the maximum is clamped), an opaque `pageToken` from the
 * previous response, and a `nextPageToken` only when more items remain
 * (https://google.aip.dev/158).
 */
export function paginate<T>(
  items: readonly T[],
  pageSize: number | string | undefined,
  pageToken: string | undefined,
  options: PageOptions,
): { items: T[]; nextPageToken: string | undefined } {
  const size = Math.min(Number(pageSize ?? 0) || options.defaultSize, options.maxSize);
  let start = 0;
  if (pageToken) {
    const decoded = Number(Buffer.from(pageToken, "base64url").toString("utf8").replace(/^o:/, ""));
    if (!Number.isInteger(decoded) || decoded < 0) throw invalidArgument("Invalid page token.");
    start = decoded;
  }
  const page = items.slice(start, start + size);
  const next =
    start + size < items.length ? Buffer.from(`o:${start + size}`).toString("base64url") : undefined;
  return { items: page, nextPageToken: next };
}
