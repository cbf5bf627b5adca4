// Reading maps out of one layer's attention, stored as a Float32Array of shape [H, N, N]
// (head, query, key; rows sum to 1), and turning them into colour-map positions.

/** Attention from query q to every key (N values) for head h: a view, not a copy. */
export function queryRow(attn, N, h, q) {
  const start = (h * N + q) * N;
  return attn.subarray(start, start + N);
}

/** Attention that every query (N values) pays to key k for head h (a copy). */
export function keyColumn(attn, N, h, k, out = new Float32Array(N)) {
  const base = h * N * N + k;
  for (let q = 0; q < N; q++) out[q] = attn[base + q * N];
  return out;
}

/** Largest value of values[from:]; 0 when empty. */
export function maxFrom(values, from = 0) {
  let m = 0;
  for (let i = from; i < values.length; i++) if (values[i] > m) m = values[i];
  return m;
}

/**
 * Map attention values to [0, 1] colour positions, scaled to the largest patch value
 * (values[numPrefix:]) so the patch map uses the whole colour range; prefix cells, which often
 * hold most of the attention, clip at 1. With logScale, `decades` orders of magnitude below the
 * maximum map to 0. A given `vmax` (a scale shared by several maps, or 1) replaces the maximum.
 * @returns {{t: Float32Array, vmax: number}}
 */
export function scaleValues(values, numPrefix, { logScale = false, decades = 3, out, vmax: given } = {}) {
  const t = out ?? new Float32Array(values.length);
  const vmax = given ?? (maxFrom(values, numPrefix) || maxFrom(values, 0));
  if (!(vmax > 0)) {
    t.fill(0);
    return { t, vmax: 0 };
  }
  if (logScale) {
    const top = Math.log10(vmax);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      t[i] = v > 0 ? Math.min(1, Math.max(0, (Math.log10(v) - top + decades) / decades)) : 0;
    }
  } else {
    for (let i = 0; i < values.length; i++) t[i] = Math.min(1, Math.max(0, values[i] / vmax));
  }
  return { t, vmax };
}

/** Index of the largest value among tokens from..N-1 (-1 when empty). */
export function argmaxFrom(values, from = 0) {
  let best = -1;
  let m = -Infinity;
  for (let i = from; i < values.length; i++) if (values[i] > m) { m = values[i]; best = i; }
  return best;
}
