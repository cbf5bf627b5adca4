import { test } from "node:test";
import assert from "node:assert/strict";
import { qkRows, qkColumns, rowOfHead, dot, checkDims } from "../src/qk.js";

/** Deterministic uniform numbers in [-1, 1) (mulberry32). */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  };
}

const randomArray = (n, rand, scale = 1) => Float32Array.from({ length: n }, () => scale * rand());

/**
 * Float64 reference: the full attention [H][N][N] as nested arrays and each row's log-sum-exp
 * [H][N], straight from the definition.
 */
function reference(q, k, { H, N, d }) {
  const attn = [];
  const lse = [];
  for (let h = 0; h < H; h++) {
    attn.push([]);
    lse.push([]);
    for (let i = 0; i < N; i++) {
      const logits = [];
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += q[(h * N + i) * d + t] * k[(h * N + j) * d + t];
        logits.push(s);
      }
      const m = Math.max(...logits);
      const z = logits.reduce((acc, x) => acc + Math.exp(x - m), 0);
      attn[h].push(logits.map((x) => Math.exp(x - m) / z));
      lse[h].push(m + Math.log(z));
    }
  }
  return { attn, lse };
}

function assertClose(actual, expected, tol, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test("a hand-checked case: H=1, N=2, d=1", () => {
  // q = [1, 0], k = [0, ln 3]: query 0's logits are [0, ln 3] -> softmax [1/4, 3/4];
  // query 1's logits are [0, 0] -> [1/2, 1/2]. lse = [ln 4, ln 2].
  const dims = { H: 1, N: 2, d: 1 };
  const q = new Float32Array([1, 0]);
  const k = new Float32Array([0, Math.log(3)]);
  assertClose(qkRows(q, k, dims, 0), [0.25, 0.75], 1e-7, "row 0");
  assertClose(qkRows(q, k, dims, 1), [0.5, 0.5], 1e-7, "row 1");
  const lse = new Float32Array([Math.log(4), Math.log(2)]);
  assertClose(qkColumns(q, k, lse, dims, 0), [0.25, 0.5], 1e-7, "column 0");
  assertClose(qkColumns(q, k, lse, dims, 1), [0.75, 0.5], 1e-7, "column 1");
});

test("rows match a float64 softmax and sum to 1 (d not a multiple of 4, and one that is)", () => {
  for (const [dims, seed] of [[{ H: 3, N: 7, d: 5 }, 1], [{ H: 2, N: 9, d: 8 }, 2], [{ H: 1, N: 4, d: 3 }, 3]]) {
    const { H, N, d } = dims;
    const rand = random(seed);
    const q = randomArray(H * N * d, rand, 1.5);
    const k = randomArray(H * N * d, rand, 1.5);
    const { attn } = reference(q, k, dims);
    for (let i = 0; i < N; i++) {
      const out = qkRows(q, k, dims, i);
      assert.equal(out.length, H * N);
      for (let h = 0; h < H; h++) {
        const row = rowOfHead(out, N, h);
        assertClose(row, attn[h][i], 1e-5, `d=${d} head ${h} query ${i}`);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, "sums to 1");
      }
    }
  }
});

test("columns are the transposed attention matrix, given the kernel's float32 lse", () => {
  const dims = { H: 3, N: 6, d: 7 };
  const { H, N, d } = dims;
  const rand = random(7);
  const q = randomArray(H * N * d, rand, 1.5);
  const k = randomArray(H * N * d, rand, 1.5);
  const ref = reference(q, k, dims);
  const lse = Float32Array.from(ref.lse.flat());
  for (let j = 0; j < N; j++) {
    const out = qkColumns(q, k, lse, dims, j);
    for (let h = 0; h < H; h++) {
      assertClose(rowOfHead(out, N, h), ref.attn[h].map((row) => row[j]), 1e-5, `head ${h} key ${j}`);
    }
  }
});

test("large logits do not overflow: the row max is subtracted before exp", () => {
  const dims = { H: 1, N: 3, d: 1 };
  const q = new Float32Array([1000, 0, 0]);
  const k = new Float32Array([1, 1, 0.999]);
  const row = qkRows(q, k, dims, 0);
  // logits [1000, 1000, 999]: e^0, e^0, e^-1 over 2 + 1/e
  const z = 2 + Math.exp(-1);
  assertClose(row, [1 / z, 1 / z, Math.exp(-1) / z], 1e-4, "row");
  assert.ok(row.every(Number.isFinite));
});

test("out is reused: written in full and returned", () => {
  const dims = { H: 2, N: 3, d: 2 };
  const rand = random(11);
  const q = randomArray(12, rand);
  const k = randomArray(12, rand);
  const lse = Float32Array.from(reference(q, k, dims).lse.flat());
  const out = new Float32Array(6).fill(NaN);
  assert.equal(qkRows(q, k, dims, 1, out), out);
  assert.deepEqual([...out], [...qkRows(q, k, dims, 1)]);
  assert.ok(out.every(Number.isFinite));
  out.fill(NaN);
  assert.equal(qkColumns(q, k, lse, dims, 2, out), out);
  assert.ok(out.every(Number.isFinite));
  assertClose(out, [...qkColumns(q, k, lse, dims, 2)], 0, "same values");
});

test("rowOfHead is a view of head h's N values", () => {
  const values = new Float32Array([0, 1, 2, 10, 11, 12]);
  assert.deepEqual([...rowOfHead(values, 3, 1)], [10, 11, 12]);
  assert.deepEqual([...rowOfHead(values, 3, 0)], [0, 1, 2]);
  assert.equal(rowOfHead(values, 3, 1).buffer, values.buffer);
});

test("dot handles every remainder of d mod 4 and offsets", () => {
  const a = new Float32Array([9, 1, 2, 3, 4, 5, 6]);
  const b = new Float32Array([1, 1, 1, 1, 1, 1, 1, 2]);
  assert.equal(dot(a, 1, b, 0, 0), 0);
  assert.equal(dot(a, 1, b, 0, 1), 1);
  assert.equal(dot(a, 1, b, 0, 3), 6);
  assert.equal(dot(a, 1, b, 0, 5), 15);
  assert.equal(dot(a, 1, b, 2, 6), 1 + 2 + 3 + 4 + 5 + 12);
});

test("sizes that do not match dims and tokens out of range are errors", () => {
  const dims = { H: 1, N: 2, d: 2 };
  const four = new Float32Array(4);
  assert.throws(() => qkRows(new Float32Array(3), four, dims, 0), { message: "q has 3 values, but [H, N, d] needs 4" });
  assert.throws(() => qkRows(four, new Float32Array(5), dims, 0), { message: "k has 5 values, but [H, N, d] needs 4" });
  assert.throws(() => qkColumns(four, four, new Float32Array(3), dims, 0), { message: "lse has 3 values, but [H, N] needs 2" });
  assert.throws(() => qkRows(four, four, dims, 0, new Float32Array(3)), { message: "out has 3 values, but [H, N] needs 2" });
  assert.throws(() => qkRows(four, four, dims, 2), { message: "token 2 is not in 0..1" });
  assert.throws(() => qkColumns(four, four, new Float32Array(2), dims, -1), /token -1 is not in 0\.\.1/);
  assert.throws(() => checkDims({ H: 1, N: 2.5, d: 2 }, four, four, null, four, 0), /bad dims H=1, N=2.5, d=2/);
});

test("a ViT-L sized layer (H=16, N=1374, d=64) computes a row and a column", () => {
  const dims = { H: 16, N: 1374, d: 64 };
  const { H, N, d } = dims;
  const rand = random(42);
  const q = randomArray(H * N * d, rand, 0.5);
  const k = randomArray(H * N * d, rand, 0.5);
  const query = 777;
  const rows = qkRows(q, k, dims, query);
  const lse = new Float32Array(H * N);
  for (const h of [0, 15]) {
    // float64 reference for this head's row, and lse for every query of the head
    const logits = Array.from({ length: N }, (_, j) => {
      let s = 0;
      for (let t = 0; t < d; t++) s += q[(h * N + query) * d + t] * k[(h * N + j) * d + t];
      return s;
    });
    const m = Math.max(...logits);
    const z = logits.reduce((acc, x) => acc + Math.exp(x - m), 0);
    assertClose(rowOfHead(rows, N, h), logits.map((x) => Math.exp(x - m) / z), 1e-6, `head ${h}`);
    lse[h * N + query] = m + Math.log(z);
  }
  for (let h = 0; h < H; h++) {
    assert.ok(Math.abs(rowOfHead(rows, N, h).reduce((a, b) => a + b, 0) - 1) < 1e-4, `head ${h} sums to 1`);
  }
  const columns = qkColumns(q, k, lse, dims, 5);
  for (const h of [0, 15]) {
    assert.ok(Math.abs(columns[h * N + query] - rows[h * N + 5]) < 1e-6, `head ${h}: column entry = row entry`);
  }
});
