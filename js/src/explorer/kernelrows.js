// Rows the kernel computes on hover (the `rows` command), for layers shipped as "kernel" (too
// big to send) and for the first paint while a big `layer_data` reply is on the way. One row
// fetcher (rowfetch.js: at most one request in flight, the newest want replaces the pending
// one) and an LRU of rows. Each request carries the hovered token and its grid neighbours not
// yet at hand, so the next move is usually answered from the store; separate prefetch requests
// would occupy the one slot just when the pointer moves on (measured on DINOv2-L/14 @518:
// hover p95 114 ms with them):
//   key `${kind}:${image}:${layer}:${token}` -> Float32Array [H', N]
// (H' = H for kind "row" and "column", 1 for "rollout").

import { decodeReply } from "../codecs.js";
import { createRowFetcher } from "../rowfetch.js";
import { createLru } from "./state.js";

/** Rows kept: 256 tokens' rows of every head. */
export const ROWS_ENTRIES = 256;

/** Store key (and fetcher key) of one token's rows. */
export function rowsKey(kind, image, layer, token) {
  return `${kind}:${image}:${layer}:${token}`;
}

/** Fetcher job of one token's rows: {key, params: {image, layer, kind, tokens: [token]}}. */
export function rowsJob(kind, image, layer, token) {
  return { key: rowsKey(kind, image, layer, token), params: { image, layer, kind, tokens: [token] } };
}

/**
 * Patch tokens above, below, left and right of a patch token (prefix tokens first:
 * token = P + r*gw + c); none for a prefix token.
 * @param {{P: number, gh: number, gw: number}} grid
 * @returns {number[]}
 */
export function neighbourTokens(token, { P, gh, gw }) {
  if (token < P) return [];
  const r = Math.floor((token - P) / gw);
  const c = (token - P) % gw;
  const cells = [[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]];
  return cells.filter(([y, x]) => y >= 0 && y < gh && x >= 0 && x < gw).map(([y, x]) => P + y * gw + x);
}

/**
 * The job for one hovered token: its rows and those of its grid neighbours that `has` lacks,
 * in one request (keyed by the hovered token).
 */
export function hoverJob(kind, image, layer, token, grid, has) {
  const job = rowsJob(kind, image, layer, token);
  const near = neighbourTokens(token, grid).filter((t) => !has(rowsKey(kind, image, layer, t)));
  job.params.tokens.push(...near);
  return job;
}

/**
 * One Float32Array [H', N] per token of a decoded `rows` array [T, H', N] (views, in order).
 * @returns {[number, Float32Array][]} [token, rows]
 */
export function splitRows(rows, tokens) {
  const T = tokens.length;
  if (T === 0 || rows.length % T !== 0) throw new Error(`${rows.length} row values do not split into ${T} tokens`);
  const size = rows.length / T;
  return tokens.map((t, i) => [t, rows.subarray(i * size, (i + 1) * size)]);
}

/** Decode a `rows` reply ({result, buffers}) into store entries [key, rows]. */
export function rowsEntries(params, { result, buffers }) {
  const { rows } = decodeReply(result, buffers);
  if (!rows) throw new Error("the `rows` reply carries no rows");
  const tokens = result.tokens ?? params.tokens;
  return splitRows(rows, tokens).map(([t, r]) => [rowsKey(params.kind, params.image, params.layer, t), r]);
}

/**
 * @param {object} o
 * @param o.rpc from createRpc
 * @param {() => {P, gh, gw}} o.grid the model's prefix tokens and patch grid
 * @param {(params: object) => void} o.onRows rows for params {image, layer, kind, tokens} arrived
 * @param {(params: object, err: Error) => void} o.onError a wanted request failed
 * @param {(stats: {inFlight, pending, sent, received}) => void} [o.onStats] after each want and reply
 * @returns {{want, get, reset, clear, stats, dispose}} want/get(kind, image, layer, token): ask
 *   for / read one token's rows ([H', N], undefined while missing); reset(): a new selection
 *   (drop the pending want and the prefetching); clear(): forget every row (a new session)
 */
export function createKernelRows({ rpc, grid, onRows, onError, onStats = () => {}, capacity = ROWS_ENTRIES }) {
  const store = createLru(capacity);
  let received = 0;
  const stats = () => ({ ...fetcher.stats(), received });
  const report = () => queueMicrotask(() => onStats(stats()));
  const request = (params) => {
    const sent = rpc.request("rows", params);
    sent.promise.then(report, report); // after the fetcher settled (and maybe sent the next job)
    return sent;
  };
  const make = () => createRowFetcher({
    request,
    isCached: (key) => store.has(key),
    onRows(job, reply) {
      try {
        for (const [key, rows] of rowsEntries(job.params, reply)) store.set(key, rows);
      } catch (err) {
        if (!job.prefetch) onError(job.params, err);
        return;
      }
      received += 1;
      onRows(job.params);
    },
    onError: (job, err) => onError(job.params, err),
  });
  let fetcher = make();
  return {
    want(kind, image, layer, token) {
      fetcher.want(hoverJob(kind, image, layer, token, grid(), (key) => store.has(key)));
      onStats(stats());
    },
    get: (kind, image, layer, token) => store.get(rowsKey(kind, image, layer, token)),
    reset: () => fetcher.reset(),
    clear() {
      fetcher.dispose();
      fetcher = make();
      store.clear();
    },
    stats,
    dispose: () => fetcher.dispose(),
  };
}
