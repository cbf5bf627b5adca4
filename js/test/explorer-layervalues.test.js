import { test } from "node:test";
import assert from "node:assert/strict";
import { createLayerValues, allHeads, headsKind, valuesToken } from "../src/explorer/layervalues.js";
import { decodeFloat16, encodeFloat16 } from "../src/float16.js";

const H = 2, N = 7, d = 4;
const half = (values) => decodeFloat16(encodeFloat16(values)); // values as they arrive from the wire

/**
 * A constructed qk layer, H=2, N=7, d=4: q and k as float16 decodes a fixed pattern to, and a
 * float64 reference of its attention [H][N][N] and log-sum-exp [H][N].
 */
function constructedLayer() {
  const q = half(Array.from({ length: H * N * d }, (_, i) => Math.sin(1.3 * i) * 1.7));
  const k = half(Array.from({ length: H * N * d }, (_, i) => Math.cos(0.7 * i + 0.2) * 1.4));
  const attn = [];
  const lse = new Float32Array(H * N);
  for (let h = 0; h < H; h++) {
    attn.push([]);
    for (let i = 0; i < N; i++) {
      const logits = Array.from({ length: N }, (_, j) => {
        let s = 0;
        for (let t = 0; t < d; t++) s += q[(h * N + i) * d + t] * k[(h * N + j) * d + t];
        return s;
      });
      const m = Math.max(...logits);
      const z = logits.reduce((a, x) => a + Math.exp(x - m), 0);
      attn[h].push(logits.map((x) => Math.exp(x - m) / z));
      lse[h * N + i] = m + Math.log(z);
    }
  }
  const dense = half(attn.flat(2)); // [H, N, N] as the dense form ships it
  return { qk: { form: "qk", q, k, lse, d }, dense: { form: "dense", attention: dense }, attn };
}

function assertClose(actual, expected, tol, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const FLOAT16_TOL = 5e-4; // attention shares in [0, 1] to half precision (2^-11 relative)
const source = (attention, rows = new Map(), rollout = null) =>
  ({ attention, rollout, H, N, kernelRows: (kind, token) => rows.get(`${kind}:${token}`) });

test("qk rows equal the dense rows and a float64 softmax to float16 tolerance", () => {
  const { qk, dense, attn } = constructedLayer();
  const lv = createLayerValues();
  for (let token = 0; token < N; token++) {
    for (let h = 0; h < H; h++) {
      const fromQk = [...lv.values(source(qk), "row", h, token)];
      assertClose(fromQk, attn[h][token], 1e-5, `qk head ${h} query ${token} vs float64`);
      assertClose(fromQk, lv.values(source(dense), "row", h, token), FLOAT16_TOL, `qk vs dense head ${h} query ${token}`);
    }
  }
});

test("qk columns equal the dense columns (exp(q.k - lse) with the kernel's lse)", () => {
  const { qk, dense, attn } = constructedLayer();
  const lv = createLayerValues();
  for (let key = 0; key < N; key++) {
    for (let h = 0; h < H; h++) {
      const fromQk = [...lv.values(source(qk), "column", h, key)];
      assertClose(fromQk, attn[h].map((row) => row[key]), 1e-5, `qk head ${h} key ${key} vs float64`);
      assertClose(fromQk, lv.values(source(dense), "column", h, key), FLOAT16_TOL, `qk vs dense head ${h} key ${key}`);
    }
  }
});

test("one qk computation serves every head of one (kind, token); another token or kind computes again", () => {
  const { qk } = constructedLayer();
  const lv = createLayerValues();
  const src = source(qk);
  const h0 = lv.values(src, "row", 0, 3);
  const h1 = lv.values(src, "row", 1, 3);
  lv.values(src, "row", 0, 3);
  assert.equal(lv.stats().computed, 1);
  assert.equal(h0.buffer, h1.buffer, "views of one [H, N] result");
  lv.values(src, "row", 0, 4);
  lv.values(src, "column", 0, 4);
  assert.equal(lv.stats().computed, 3);
  lv.values(source(constructedLayer().qk), "column", 0, 4);
  assert.equal(lv.stats().computed, 4, "a new entry (layer) is computed afresh");
});

test("dense rows are views into the attention; dense columns are copied", () => {
  const { dense } = constructedLayer();
  const lv = createLayerValues();
  const row = lv.values(source(dense), "row", 1, 2);
  assert.equal(row.buffer, dense.attention.buffer);
  assert.deepEqual([...row], [...dense.attention.subarray((N + 2) * N, (N + 3) * N)]);
  assert.notEqual(lv.values(source(dense), "column", 1, 2).buffer, dense.attention.buffer);
});

test("a kernel-form or missing layer reads the kernel's rows, null until they arrive", () => {
  const rows = new Map();
  const lv = createLayerValues();
  for (const attention of [{ form: "kernel" }, null]) {
    assert.equal(lv.values(source(attention, rows), "row", 1, 5), null);
    assert.equal(lv.values(source(attention, rows), "column", 0, 5), null);
  }
  rows.set("row:5", Float32Array.from({ length: H * N }, (_, i) => i)); // [H, N]
  assert.deepEqual([...lv.values(source({ form: "kernel" }, rows), "row", 1, 5)], [7, 8, 9, 10, 11, 12, 13]);
  assert.deepEqual([...lv.values(source(null, rows), "row", 0, 5)], [0, 1, 2, 3, 4, 5, 6]);
});

test("rollout rows come from the dense rollout [N, N] or the kernel's [1, N] rows", () => {
  const lv = createLayerValues();
  const rollout = Float32Array.from({ length: N * N }, (_, i) => i);
  assert.deepEqual([...lv.values(source(null, new Map(), { form: "dense", rollout }), "rollout", 1, 2)], [14, 15, 16, 17, 18, 19, 20]);
  const rows = new Map();
  assert.equal(lv.values(source(null, rows, { form: "kernel" }), "rollout", 0, 2), null);
  assert.equal(lv.values(source(null, rows, null), "rollout", 0, 2), null);
  rows.set("rollout:2", new Float32Array(N).fill(0.5));
  assert.deepEqual([...lv.values(source(null, rows, { form: "kernel" }), "rollout", 0, 2)], new Array(N).fill(0.5));
});

test("allHeads writes every head's row or column of a dense layer", () => {
  // H = 2, N = 2: A[h, q, k] = 100 h + 10 q + k
  const attention = new Float32Array([0, 1, 10, 11, 100, 101, 110, 111]);
  const entry = { form: "dense", attention };
  assert.deepEqual([...allHeads(entry, "row", 1, { H: 2, N: 2 })], [10, 11, 110, 111]);
  assert.deepEqual([...allHeads(entry, "column", 1, { H: 2, N: 2 })], [1, 11, 101, 111]);
});

test("modes name the heads' kind and the token shown", () => {
  assert.deepEqual(["row", "column", "cls", "rollout"].map(headsKind), ["row", "column", "row", "row"]);
  assert.deepEqual(["row", "column", "cls", "rollout"].map((m) => valuesToken(m, 5)), [5, 5, 0, 5]);
});
