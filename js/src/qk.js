// Attention rows of one layer computed in the browser from its queries and keys, so hovering
// needs no [H, N, N] matrix from the kernel. Inputs are Float32Arrays (decoded from the wire):
//   q    [H, N, d]  queries already multiplied by the attention scale (logits are plain dots)
//   k    [H, N, d]  keys
//   lse  [H, N]     log-sum-exp of each query's logits, as the kernel computed it
// Outputs are [H, N]: one row of N values per head. The loops run on every pointer move
// (H=16, N=1374, d=64 is 1.4 M multiply-adds), so offsets are hoisted and nothing is allocated
// but the default `out`.

function checkLength(name, a, want, shape) {
  if (a.length !== want) throw new RangeError(`${name} has ${a.length} values, but ${shape} needs ${want}`);
}

const isSize = (n) => Number.isInteger(n) && n >= 0;

/**
 * Throw unless the arrays have the sizes dims says and `index` is a token (allocates nothing
 * when all is well).
 * @param {{H: number, N: number, d: number}} dims
 * @param {ArrayLike<number>} q [H, N, d]
 * @param {ArrayLike<number>} k [H, N, d]
 * @param {ArrayLike<number>|null} lse [H, N], or null when not used
 * @param {ArrayLike<number>} out [H, N]
 * @param {number} index the query or key asked for
 */
export function checkDims(dims, q, k, lse, out, index) {
  const { H, N, d } = dims;
  if (!(isSize(H) && isSize(N) && isSize(d))) throw new RangeError(`bad dims H=${H}, N=${N}, d=${d}`);
  checkLength("q", q, H * N * d, "[H, N, d]");
  checkLength("k", k, H * N * d, "[H, N, d]");
  if (lse !== null) checkLength("lse", lse, H * N, "[H, N]");
  checkLength("out", out, H * N, "[H, N]");
  if (!(Number.isInteger(index) && index >= 0 && index < N)) throw new RangeError(`token ${index} is not in 0..${N - 1}`);
}

/**
 * dot(a[aOff : aOff + d], b[bOff : bOff + d]) with four running sums (about twice as fast in V8
 * as one, and no less accurate).
 */
export function dot(a, aOff, b, bOff, d) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, t = 0;
  for (; t + 3 < d; t += 4) {
    s0 += a[aOff + t] * b[bOff + t];
    s1 += a[aOff + t + 1] * b[bOff + t + 1];
    s2 += a[aOff + t + 2] * b[bOff + t + 2];
    s3 += a[aOff + t + 3] * b[bOff + t + 3];
  }
  for (; t < d; t++) s0 += a[aOff + t] * b[bOff + t];
  return (s0 + s1) + (s2 + s3);
}

/** Softmax in place of values[from : from + n] (row max subtracted before exp). */
function softmaxInPlace(values, from, n) {
  const end = from + n;
  let max = -Infinity;
  for (let j = from; j < end; j++) if (values[j] > max) max = values[j];
  let sum = 0;
  for (let j = from; j < end; j++) {
    const e = Math.exp(values[j] - max);
    values[j] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let j = from; j < end; j++) values[j] *= inv;
}

/**
 * Attention from one query to every key, for every head: out[h*N + j] = softmax_j of
 * dot(q[h, query, :], k[h, j, :]). Each head's row sums to 1.
 * @param {Float32Array} q [H, N, d] scaled queries
 * @param {Float32Array} k [H, N, d] keys
 * @param {{H: number, N: number, d: number}} dims
 * @param {number} query token index 0..N-1
 * @param {Float32Array} [out] [H, N], overwritten
 * @returns {Float32Array} out
 */
export function qkRows(q, k, dims, query, out = new Float32Array(dims.H * dims.N)) {
  checkDims(dims, q, k, null, out, query);
  const { H, N, d } = dims;
  for (let h = 0; h < H; h++) {
    const qOff = (h * N + query) * d;
    const row = h * N;
    let kOff = h * N * d;
    for (let j = 0; j < N; j++, kOff += d) out[row + j] = dot(q, qOff, k, kOff, d);
    softmaxInPlace(out, row, N);
  }
  return out;
}

/**
 * Attention that every query pays to one key, for every head: out[h*N + i] =
 * exp(dot(q[h, i, :], k[h, key, :]) - lse[h*N + i]), a column of the attention matrix.
 * @param {Float32Array} q [H, N, d] scaled queries
 * @param {Float32Array} k [H, N, d] keys
 * @param {Float32Array} lse [H, N] log-sum-exp of each query's logits
 * @param {{H: number, N: number, d: number}} dims
 * @param {number} key token index 0..N-1
 * @param {Float32Array} [out] [H, N], overwritten
 * @returns {Float32Array} out
 */
export function qkColumns(q, k, lse, dims, key, out = new Float32Array(dims.H * dims.N)) {
  checkDims(dims, q, k, lse, out, key);
  const { H, N, d } = dims;
  for (let h = 0; h < H; h++) {
    const kOff = (h * N + key) * d;
    const row = h * N;
    let qOff = h * N * d;
    for (let i = 0; i < N; i++, qOff += d) out[row + i] = Math.exp(dot(q, qOff, k, kOff, d) - lse[row + i]);
  }
  return out;
}

/** Head h's row (N values) of an [H, N] array: a view, not a copy. */
export function rowOfHead(values, N, h) {
  return values.subarray(h * N, (h + 1) * N);
}
