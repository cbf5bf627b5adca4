import { test } from "node:test";
import assert from "node:assert/strict";
import { createRowFetcher, firstPrefetch } from "../src/rowfetch.js";

const flush = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A fake kernel: every request is recorded with hand-settled resolve/reject; the cache holds
 * the keys whose rows arrived; the largest number of unsettled requests is tracked.
 */
function harness({ prefetchOf, cached = [] } = {}) {
  const calls = [];
  const cache = new Set(cached);
  const rows = [];
  const errors = [];
  let open = 0;
  let maxOpen = 0;
  const request = (params) => {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    const call = { params, id: `r${calls.length + 1}` };
    call.resolve = async (reply = { rows: params.key }) => { open -= 1; resolve(reply); await flush(); };
    call.reject = async (err) => { open -= 1; reject(err); await flush(); };
    calls.push(call);
    return { id: call.id, promise };
  };
  const fetcher = createRowFetcher({
    request,
    isCached: (key) => cache.has(key),
    onRows: (job, reply) => { rows.push([job.key, !!job.prefetch, reply]); cache.add(job.key); },
    onError: (job, err) => errors.push([job.key, err.message]),
    prefetchOf,
  });
  return { fetcher, calls, cache, rows, errors, maxOpen: () => maxOpen, last: () => calls[calls.length - 1] };
}

const job = (key, extra = {}) => ({ key, params: { key }, ...extra });
const keysOf = (calls) => calls.map((c) => c.params.key);

test("an idle fetcher sends at once; the reply reaches onRows", async () => {
  const h = harness();
  h.fetcher.want(job("q1"));
  assert.deepEqual(keysOf(h.calls), ["q1"]);
  assert.deepEqual(h.fetcher.stats(), { inFlight: 1, pending: 0, sent: 1 });
  await h.calls[0].resolve({ rows: "R1" });
  assert.deepEqual(h.rows, [["q1", false, { rows: "R1" }]]);
  assert.deepEqual(h.fetcher.stats(), { inFlight: 0, pending: 0, sent: 1 });
});

test("a storm of 1000 wants during one request sends exactly one more: the latest", async () => {
  const h = harness();
  h.fetcher.want(job("q0"));
  for (let i = 1; i <= 1000; i++) {
    h.fetcher.want(job(`q${i}`));
    assert.deepEqual(h.fetcher.stats(), { inFlight: 1, pending: 1, sent: 1 });
  }
  assert.equal(h.calls.length, 1);
  await h.calls[0].resolve();
  assert.deepEqual(keysOf(h.calls), ["q0", "q1000"]);
  assert.deepEqual(h.fetcher.stats(), { inFlight: 1, pending: 0, sent: 2 });
  await h.last().resolve();
  assert.deepEqual(h.fetcher.stats(), { inFlight: 0, pending: 0, sent: 2 });
  assert.deepEqual(h.rows.map((r) => r[0]), ["q0", "q1000"]);
  assert.equal(h.maxOpen(), 1, "never two requests at once");
});

test("cached keys are never requested, and a pending job cached meanwhile is skipped", async () => {
  const h = harness({ cached: ["c"] });
  h.fetcher.want(job("c"));
  assert.equal(h.calls.length, 0);
  h.fetcher.want(job("a"));
  h.fetcher.want(job("b"));
  h.cache.add("b"); // filled by some other reply before the in-flight one settles
  await h.calls[0].resolve();
  assert.deepEqual(keysOf(h.calls), ["a"]);
  assert.deepEqual(h.fetcher.stats(), { inFlight: 0, pending: 0, sent: 1 });
});

test("a want for the in-flight key or a cached key drops the stale pending job", async () => {
  const h = harness({ cached: ["c"] });
  h.fetcher.want(job("a"));
  h.fetcher.want(job("b"));
  h.fetcher.want(job("a")); // back to what is already coming
  assert.deepEqual(h.fetcher.stats(), { inFlight: 1, pending: 0, sent: 1 });
  h.fetcher.want(job("b"));
  h.fetcher.want(job("c")); // on to something at hand
  assert.deepEqual(h.fetcher.stats(), { inFlight: 1, pending: 0, sent: 1 });
  await h.calls[0].resolve();
  assert.deepEqual(keysOf(h.calls), ["a"]);
});

test("prefetch only when idle: suggestions not cached nor sent, one at a time, marked prefetch", async () => {
  const around = (j) => [job(`${j.key}+1`), job(`${j.key}-1`), job("c")];
  const h = harness({ prefetchOf: around, cached: ["c"] });
  h.fetcher.want(job("q"));
  assert.deepEqual(keysOf(h.calls), ["q"], "nothing prefetched while the wanted job is in flight");
  await h.calls[0].resolve();
  assert.deepEqual(keysOf(h.calls), ["q", "q+1"]);
  assert.deepEqual(h.fetcher.stats(), { inFlight: 1, pending: 0, sent: 2 });
  h.fetcher.want(job("w")); // arrives during a prefetch: waits for it, then goes first
  assert.deepEqual(h.fetcher.stats(), { inFlight: 1, pending: 1, sent: 2 });
  await h.calls[1].resolve();
  assert.deepEqual(keysOf(h.calls), ["q", "q+1", "w"]);
  await h.calls[2].resolve();
  assert.deepEqual(keysOf(h.calls), ["q", "q+1", "w", "w+1"], "prefetch follows the last wanted job");
  await h.calls[3].resolve();
  await h.calls[4].resolve();
  assert.deepEqual(keysOf(h.calls), ["q", "q+1", "w", "w+1", "w-1"]);
  assert.deepEqual(h.fetcher.stats(), { inFlight: 0, pending: 0, sent: 5 }, "c is cached: nothing left to prefetch");
  assert.deepEqual(h.rows.map(([key, prefetch]) => [key, prefetch]),
    [["q", false], ["q+1", true], ["w", false], ["w+1", true], ["w-1", true]]);
  assert.equal(h.maxOpen(), 1);
});

test("a prefetch whose reply is not cached is not asked for again", async () => {
  const calls = [];
  const fetcher = createRowFetcher({
    request: (params) => { calls.push(params.key); return { id: "x", promise: Promise.resolve({}) }; },
    isCached: () => false,
    onRows: () => {},
    prefetchOf: () => [job("p1"), job("p2")],
  });
  fetcher.want(job("q"));
  for (let i = 0; i < 5; i++) await flush();
  assert.deepEqual(calls, ["q", "p1", "p2"]);
  assert.equal(fetcher.stats().sent, 3);
});

test("errors reach onError for wanted jobs only, never for prefetches or cancellations", async () => {
  const h = harness({ prefetchOf: (j) => [job(`${j.key}+1`)] });
  h.fetcher.want(job("a"));
  await h.calls[0].reject(Object.assign(new Error("no reply"), { timedOut: true }));
  assert.deepEqual(h.errors, [["a", "no reply"]]);
  assert.equal(h.calls.length, 1, "no prefetching after a failure");
  h.fetcher.want(job("b"));
  await h.calls[1].resolve();
  assert.deepEqual(keysOf(h.calls), ["a", "b", "b+1"]);
  await h.calls[2].reject(new Error("prefetch failed"));
  h.fetcher.want(job("c"));
  await h.calls[3].reject(Object.assign(new Error("cancelled"), { cancelled: true }));
  assert.deepEqual(h.errors, [["a", "no reply"]]);
  h.fetcher.want(job("a")); // a failed key is asked for again when wanted
  assert.deepEqual(keysOf(h.calls), ["a", "b", "b+1", "c", "a"]);
});

test("wanting the key of the prefetch in flight makes its failure reportable", async () => {
  const h = harness({ prefetchOf: () => [job("p")] });
  h.fetcher.want(job("a"));
  await h.calls[0].resolve();
  assert.deepEqual(keysOf(h.calls), ["a", "p"]);
  h.fetcher.want(job("p"));
  assert.deepEqual(h.fetcher.stats(), { inFlight: 1, pending: 0, sent: 2 });
  await h.calls[1].reject(new Error("boom"));
  assert.deepEqual(h.errors, [["p", "boom"]]);
});

test("a request that throws is a failed job", async () => {
  const errors = [];
  const fetcher = createRowFetcher({
    request: () => { throw new Error("model closed"); },
    isCached: () => false,
    onRows: () => assert.fail("no rows"),
    onError: (j, err) => errors.push([j.key, err.message]),
  });
  fetcher.want(job("a"));
  await flush();
  assert.deepEqual(errors, [["a", "model closed"]]);
  assert.deepEqual(fetcher.stats(), { inFlight: 0, pending: 0, sent: 1 });
});

test("reset drops the pending job and the prefetches; the in-flight reply still arrives", async () => {
  const h = harness({ prefetchOf: (j) => [job(`${j.key}+1`)] });
  h.fetcher.want(job("a"));
  h.fetcher.want(job("b"));
  h.fetcher.reset();
  assert.deepEqual(h.fetcher.stats(), { inFlight: 1, pending: 0, sent: 1 });
  await h.calls[0].resolve();
  assert.deepEqual(h.rows.map((r) => r[0]), ["a"]);
  assert.deepEqual(keysOf(h.calls), ["a"], "neither b nor a prefetch is sent");
  assert.deepEqual(h.fetcher.stats(), { inFlight: 0, pending: 0, sent: 1 });
});

test("after dispose nothing is sent and late replies are ignored", async () => {
  const h = harness({ prefetchOf: (j) => [job(`${j.key}+1`)] });
  h.fetcher.want(job("a"));
  h.fetcher.want(job("b"));
  h.fetcher.dispose();
  await h.calls[0].resolve();
  h.fetcher.want(job("c"));
  assert.deepEqual(keysOf(h.calls), ["a"]);
  assert.deepEqual(h.rows, []);
  assert.deepEqual(h.fetcher.stats(), { inFlight: 0, pending: 0, sent: 1 });
});

test("firstPrefetch skips cached and sent keys", () => {
  const cached = new Set(["a"]);
  const isCached = (key) => cached.has(key);
  assert.deepEqual(firstPrefetch([job("a"), job("b"), job("c")], isCached, new Set(["b"])), { ...job("c"), prefetch: true });
  assert.equal(firstPrefetch([job("a")], isCached, new Set()), null);
  assert.equal(firstPrefetch(undefined, isCached, new Set()), null);
});

test("a want made inside onRows (a repaint asking for more) is sent once, after the settle", async () => {
  const calls = [];
  const cache = new Set();
  const settles = [];
  const fetcher = createRowFetcher({
    request: (params) => {
      calls.push(params.key);
      let resolve;
      const promise = new Promise((res) => { resolve = res; });
      settles.push(resolve);
      return { id: params.key, promise };
    },
    isCached: (key) => cache.has(key),
    onRows: (done) => {
      cache.add(done.key);
      fetcher.want(job("b")); // the repaint still wants b, the pending job
    },
  });
  fetcher.want(job("a"));
  fetcher.want(job("b")); // pending
  settles[0]();
  await flush();
  assert.deepEqual(calls, ["a", "b"], "b once, not twice");
  assert.deepEqual(fetcher.stats(), { inFlight: 1, pending: 0, sent: 2 });
});
