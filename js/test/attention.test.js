import { test } from "node:test";
import assert from "node:assert/strict";
import { queryRow, keyColumn, scaleValues, argmaxFrom, maxFrom } from "../src/attention.js";

// H=2, N=3: A[h, q, k] = 100 h + 10 q + k
const H = 2, N = 3;
const attn = new Float32Array(H * N * N).map((_, i) => 100 * Math.floor(i / 9) + 10 * Math.floor((i % 9) / 3) + (i % 3));

test("rows and columns of [H, N, N]", () => {
  assert.deepEqual([...queryRow(attn, N, 1, 2)], [120, 121, 122]);
  assert.deepEqual([...keyColumn(attn, N, 0, 1)], [1, 11, 21]);
  assert.equal(queryRow(attn, N, 0, 0).buffer, attn.buffer, "a row is a view");
});

test("linear scaling to the largest patch value; prefix clips at 1", () => {
  const v = new Float32Array([0.6, 0.1, 0.3, 0.0]); // P = 1
  const { t, vmax } = scaleValues(v, 1);
  assert.equal(vmax, 0.30000001192092896);
  assert.deepEqual([...t].map((x) => +x.toFixed(4)), [1, 0.3333, 1, 0]);
});

test("log scaling spans `decades` below the maximum", () => {
  const v = new Float32Array([1, 0.1, 0.01, 0.0001, 0]);
  const { t } = scaleValues(v, 0, { logScale: true, decades: 2 });
  assert.deepEqual([...t].map((x) => +x.toFixed(4)), [1, 0.5, 0, 0, 0]);
});

test("all-zero maps and helpers", () => {
  const { t, vmax } = scaleValues(new Float32Array(4), 1);
  assert.equal(vmax, 0);
  assert.deepEqual([...t], [0, 0, 0, 0]);
  assert.equal(argmaxFrom(new Float32Array([9, 1, 5, 2]), 1), 2);
  assert.equal(maxFrom(new Float32Array([9, 1, 5, 2]), 1), 5);
});

test("a given vmax replaces the map's own maximum (shared and absolute scales)", () => {
  const v = new Float32Array([0.9, 0.25, 0.5]);
  assert.deepEqual([...scaleValues(v, 1, { vmax: 1 }).t], [Math.fround(0.9), 0.25, 0.5]);
  assert.deepEqual([...scaleValues(v, 1, { vmax: 0.5 }).t], [1, 0.5, 1]);
  assert.equal(scaleValues(v, 1, { vmax: 0.5 }).vmax, 0.5);
});
