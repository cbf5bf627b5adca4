import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeFloat16 } from "../src/float16.js";
import {
  ROWS_ENTRIES, rowsKey, rowsJob, neighbourTokens, hoverJob, splitRows, rowsEntries, createKernelRows,
} from "../src/explorer/kernelrows.js";

const flush = () => new Promise((resolve) => setImmediate(resolve));

/** A `rows` reply {result, buffers} of float16 values shaped [T, H', N]. */
function rowsReply(params, shape, values) {
  const bytes = encodeFloat16(values);
  const result = { ...params, arrays: [{ name: "rows", shape, dtype: "float16" }] };
  return { result, buffers: [new DataView(bytes.buffer)] };
}

test("keys and jobs name kind, image, layer and token", () => {
  assert.equal(rowsKey("column", 1, 2, 3), "column:1:2:3");
  assert.deepEqual(rowsJob("row", 0, 5, 7), { key: "row:0:5:7", params: { image: 0, layer: 5, kind: "row", tokens: [7] } });
  assert.equal(ROWS_ENTRIES, 256);
});

test("grid neighbours of a patch token: up, down, left, right within the grid; none for a prefix token", () => {
  const grid = { P: 1, gh: 3, gw: 4 }; // token = 1 + 4 r + c
  assert.deepEqual(neighbourTokens(6, grid), [2, 10, 5, 7], "patch (1, 1)");
  assert.deepEqual(neighbourTokens(1, grid), [5, 2], "corner (0, 0)");
  assert.deepEqual(neighbourTokens(12, grid), [8, 11], "corner (2, 3)");
  assert.deepEqual(neighbourTokens(0, grid), []);
  const job = hoverJob("column", 1, 2, 1, grid, (key) => key === "column:1:2:2");
  assert.deepEqual(job, { key: "column:1:2:1", params: { image: 1, layer: 2, kind: "column", tokens: [1, 5] } },
    "the hovered token first, then the neighbours not at hand");
});

test("a [T, H', N] rows array splits into one [H', N] array per token", () => {
  const rows = Float32Array.from({ length: 12 }, (_, i) => i);
  const parts = splitRows(rows, [4, 9]);
  assert.deepEqual(parts.map(([t, r]) => [t, [...r]]), [[4, [0, 1, 2, 3, 4, 5]], [9, [6, 7, 8, 9, 10, 11]]]);
  assert.throws(() => splitRows(rows, [1, 2, 3, 4, 5]), /12 row values do not split into 5 tokens/);
});

test("a rows reply becomes store entries keyed by its tokens", () => {
  const params = { image: 0, layer: 1, kind: "rollout", tokens: [3] };
  const entries = rowsEntries(params, rowsReply(params, [1, 1, 2], [0.25, 0.75]));
  assert.deepEqual(entries.map(([k, r]) => [k, [...r]]), [["rollout:0:1:3", [0.25, 0.75]]]);
  assert.throws(() => rowsEntries(params, { result: { arrays: [] }, buffers: [] }), /carries no rows/);
});

/** Kernel rows over a fake rpc whose requests are settled by hand. */
function harness() {
  const calls = [];
  const seen = { rows: [], errors: [], stats: [] };
  const rpc = {
    request(method, params) {
      let resolve, reject;
      const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
      calls.push({ method, params, resolve, reject });
      return { id: String(calls.length), promise };
    },
  };
  const rows = createKernelRows({
    rpc, grid: () => ({ P: 1, gh: 3, gw: 4 }),
    onRows: (params) => seen.rows.push(params.tokens[0]),
    onError: (params, err) => seen.errors.push([params.tokens[0], err.message]),
    onStats: (s) => seen.stats.push(s.inFlight),
  });
  const answer = async (call) => {
    const T = call.params.tokens.length;
    call.resolve(rowsReply(call.params, [T, 2, 13], new Array(T * 26).fill(0.5)));
    await flush();
  };
  return { rows, calls, seen, answer };
}

test("wanted rows come one request at a time with the neighbours, the latest want winning", async () => {
  const { rows, calls, seen, answer } = harness();
  rows.want("row", 0, 2, 6);
  for (let t = 1; t <= 12; t++) rows.want("row", 0, 2, t); // a pointer storm: only the last waits
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].params, { image: 0, layer: 2, kind: "row", tokens: [6, 2, 10, 5, 7] });
  assert.equal(rows.get("row", 0, 2, 6), undefined);
  await answer(calls[0]);
  assert.equal(rows.get("row", 0, 2, 6).length, 26);
  assert.equal(rows.get("row", 0, 2, 7).length, 26, "a neighbour came along");
  assert.deepEqual(calls.map((c) => c.params.tokens), [[6, 2, 10, 5, 7], [12, 8, 11]],
    "then the latest want, with its neighbours not at hand");
  await answer(calls[1]);
  rows.want("row", 0, 2, 7); // at hand: no request
  assert.equal(calls.length, 2, "nothing is prefetched on its own");
  assert.deepEqual(seen.rows, [6, 12]);
  assert.equal(rows.stats().received, 2);
  assert.ok(seen.stats.every((n) => n <= 1));
});

test("clear forgets the rows and ignores replies of the old session; errors reach onError", async () => {
  const { rows, calls, seen, answer } = harness();
  rows.want("column", 0, 0, 3);
  rows.clear();
  await answer(calls[0]);
  assert.equal(rows.get("column", 0, 0, 3), undefined);
  assert.deepEqual(seen.rows, []);
  rows.want("column", 0, 0, 3);
  calls[1].reject(new Error("kernel busy"));
  await flush();
  assert.deepEqual(seen.errors, [[3, "kernel busy"]]);
  rows.want("column", 0, 0, 4);
  calls[2].resolve({ result: { arrays: [] }, buffers: [] });
  await flush();
  assert.deepEqual(seen.errors.at(-1), [4, "the `rows` reply carries no rows"]);
  rows.dispose();
});
