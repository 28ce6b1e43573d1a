/**
 * The public face of src/lease: `capstan run`'s single-writer lease over a lock file
 * (file://), a Cloud Storage object (gs://) or a Kubernetes Lease (k8s://), with fencing.
 */
export { defaultIdentity, LeaderElector, type LeaderElectorOptions } from "./elector.ts";
export { type FileLeaseRecord, FileLeaseStore, type FileLeaseStoreOptions } from "./file.ts";
export {
  type Lease,
  LeaseConflictError,
  LeaseError,
  LeaseLostError,
  type LeaseRecord,
  type LeaseStatus,
  type LeaseStore,
  type Versioned,
} from "./types.ts";
export { type LeaseLocation, type OpenLeaseOptions, openLease, parseLeaseUrl, shardLease } from "./url.ts";
