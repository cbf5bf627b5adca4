// Asking the kernel for attention rows on hover: latest wins, never a queue. At most one request
// is in flight and at most one job waits (the pending one); a newer want replaces the pending
// job, so a storm of pointer moves while the kernel works costs one request afterwards, for the
// last position. When nothing is wanted the fetcher prefetches, one job at a time, what
// `prefetchOf` suggests around the last wanted job.
//
// A job is {key: string, params: object, prefetch?: boolean}: `key` names what the reply fills
// (the caller's cache key), `params` go to `request`.

/**
 * The first of `suggested` that is neither cached nor already sent, as a prefetch job.
 * @param {object[]|null|undefined} suggested jobs {key, params}
 * @param {(key: string) => boolean} isCached
 * @param {Set<string>} sentKeys
 * @returns {object|null} {...job, prefetch: true}, or null when none is left
 */
export function firstPrefetch(suggested, isCached, sentKeys) {
  for (const job of suggested ?? []) {
    if (!isCached(job.key) && !sentKeys.has(job.key)) return { ...job, prefetch: true };
  }
  return null;
}

/**
 * @param {object} o
 * @param {(params: object) => {id: string, promise: Promise<any>}} o.request sends one request;
 *   the promise rejects with an Error that may carry `.cancelled` / `.timedOut`
 * @param {(key: string) => boolean} o.isCached whether a job's reply is already at hand
 * @param {(job: object, reply: any) => void} o.onRows a job's reply (prefetches too)
 * @param {(job: object, err: Error) => void} [o.onError] a wanted job failed (not called for
 *   prefetches nor for cancelled requests)
 * @param {(job: object) => object[]} [o.prefetchOf] jobs worth fetching, in order, once idle
 *   after `job` was wanted
 * @returns {{want: (job: object) => void, reset: () => void,
 *   stats: () => {inFlight: 0|1, pending: 0|1, sent: number}, dispose: () => void}}
 */
export function createRowFetcher({ request, isCached, onRows, onError = () => {}, prefetchOf = null }) {
  let inFlight = null; // {job, token}
  let pending = null; // a job
  let lastWanted = null; // the job prefetches are suggested around; null stops prefetching
  let sentKeys = new Set(); // keys already requested since the last reset (prefetch skips them)
  let sent = 0, tokens = 0;
  let disposed = false, settling = false; // settling: inside onRows/onError, a want waits for sendNext

  function send(job) {
    const token = ++tokens;
    inFlight = { job, token };
    sent += 1;
    sentKeys.add(job.key);
    let promise;
    try {
      promise = request(job.params).promise;
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then((reply) => settle(token, reply, null), (err) => settle(token, null, err ?? new Error("request failed")));
  }

  function settle(token, reply, err) {
    if (disposed || inFlight?.token !== token) return;
    const { job } = inFlight;
    inFlight = null;
    settling = true;
    try {
      if (!err) onRows(job, reply);
      else {
        lastWanted = null; // a failing or busy kernel: no prefetching until the next want
        if (!job.prefetch && !err.cancelled) onError(job, err);
      }
    } finally {
      settling = false;
      if (!disposed) sendNext();
    }
  }

  function sendNext() {
    const job = pending;
    pending = null;
    if (job && !isCached(job.key)) return send(job);
    const prefetch = prefetchOf && lastWanted ? firstPrefetch(prefetchOf(lastWanted), isCached, sentKeys) : null;
    if (prefetch) send(prefetch);
  }

  function want(job) {
    if (disposed) return;
    lastWanted = job;
    if (isCached(job.key)) {
      pending = null; // the latest want is satisfied: an earlier pending job is stale
    } else if (inFlight && inFlight.job.key === job.key) {
      pending = null;
      if (inFlight.job.prefetch) inFlight.job = job; // now wanted: its error will be reported
    } else if (inFlight || settling) {
      pending = job;
    } else {
      send(job);
    }
  }

  return {
    want,
    /** Drop the pending job and stop prefetching (a new image or layer); the in-flight reply still arrives. */
    reset() {
      pending = null;
      lastWanted = null;
      sentKeys = new Set();
    },
    stats: () => ({ inFlight: inFlight ? 1 : 0, pending: pending ? 1 : 0, sent }),
    /** Forget everything; replies that arrive later are ignored. */
    dispose() {
      disposed = true;
      inFlight = null;
      pending = null;
      lastWanted = null;
    },
  };
}
