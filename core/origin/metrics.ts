/**
 * Counters of one process's origin, kept for /metrics (Prometheus) and the admin stats
 * route. Plain numbers: incremented on the hot path, read rarely.
 */
export class OriginMetrics {
  /** Responses served from an object already in memory. */
  hits = 0;
  /** Storage reads started because an object was not in memory. */
  misses = 0;
  /** Requests that waited on another request's storage read instead of starting their own. */
  coalesced = 0;
  /** Responses streamed from storage (objects over `origin.max_cached_object_bytes`). */
  streamed = 0;
  /** 304 Not Modified answers. */
  notModified = 0;
  /** Body bytes sent (after compression; HEAD and 304 send none). */
  bytesServed = 0;

  snapshot(): OriginCounters {
    return {
      hits: this.hits,
      misses: this.misses,
      coalesced: this.coalesced,
      streamed: this.streamed,
      not_modified: this.notModified,
      bytes_served: this.bytesServed,
    };
  }
}

/** A snapshot of the counters (snake_case, as the stats route and /metrics show them). */
export interface OriginCounters {
  hits: number;
  misses: number;
  coalesced: number;
  streamed: number;
  not_modified: number;
  bytes_served: number;
}
