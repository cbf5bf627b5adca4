// The values a map of one (image, layer) shows, whatever form the kernel shipped the layer in.
// A layer source is
//   {attention, rollout, H, N, kernelRows}
// with attention an entry of state.js (null while it has not arrived):
//   {form: "dense", attention: [H, N, N]}                        head, query, key
//   {form: "qk", q: [H, N, d], k: [H, N, d], lse: [H, N], d}     scaled queries, keys, log-sum-exp
//   {form: "kernel"}                                             nothing here: ask `rows`
// rollout likewise ({form: "dense", rollout: [N, N]} | {form: "kernel"} | null), and
// kernelRows(kind, token) the kernel's rows of one token ([H', N], H' = H for "row" and
// "column", 1 for "rollout"), or undefined when they have not arrived.
//
// Kinds: "row" (the attention row of query `token`), "column" (the attention every query pays
// to key `token`), "rollout" (the rollout row of query `token`; one map, head ignored).

import { queryRow, keyColumn } from "../attention.js";
import { qkRows, qkColumns, rowOfHead } from "../qk.js";

/** Kind of the small (per-head) maps of a token mode: "column" in column mode, else "row". */
export function headsKind(mode) {
  return mode === "column" ? "column" : "row";
}

/** Token whose values a token mode shows for the shown query q: 0 (CLS) in cls mode, else q. */
export function valuesToken(mode, q) {
  return mode === "cls" ? 0 : q;
}

/**
 * Every head's values of one kind ("row" | "column") and token, [H, N], from a dense or qk
 * entry, written into out.
 */
export function allHeads(entry, kind, token, { H, N }, out = new Float32Array(H * N)) {
  if (entry.form === "qk") {
    const dims = { H, N, d: entry.d };
    return kind === "column" ? qkColumns(entry.q, entry.k, entry.lse, dims, token, out) : qkRows(entry.q, entry.k, dims, token, out);
  }
  for (let h = 0; h < H; h++) {
    const row = rowOfHead(out, N, h);
    if (kind === "column") keyColumn(entry.attention, N, h, token, row);
    else row.set(queryRow(entry.attention, N, h, token));
  }
  return out;
}

function rolloutValues(src, token) {
  const r = src.rollout;
  if (r && r.form === "dense") return queryRow(r.rollout, src.N, 0, token);
  const rows = src.kernelRows("rollout", token);
  return rows ? rows.subarray(0, src.N) : null;
}

/**
 * Values of one layer's maps, computing a qk layer's [H, N] once per (entry, kind, token): the
 * small maps, the large view and the readout of one pointer move share one computation.
 * @returns {{values: (src: object, kind: string, head: number, token: number) => Float32Array|null,
 *   stats: () => {computed: number}}} values(): N values (a view, valid until the next call for
 *   another token), or null when only the kernel can answer (ask it with the `rows` command)
 */
export function createLayerValues() {
  let memo = { entry: null, kind: "", token: -1, out: null };
  let computed = 0;

  function memoised(entry, kind, token, src) {
    if (memo.entry === entry && memo.kind === kind && memo.token === token) return memo.out;
    const size = src.H * src.N;
    const out = memo.out && memo.out.length === size ? memo.out : new Float32Array(size);
    allHeads(entry, kind, token, src, out);
    computed += 1;
    memo = { entry, kind, token, out };
    return out;
  }

  function values(src, kind, head, token) {
    if (kind === "rollout") return rolloutValues(src, token);
    const e = src.attention;
    if (e && e.form === "dense" && kind === "row") return queryRow(e.attention, src.N, head, token);
    if (e && (e.form === "dense" || e.form === "qk")) return rowOfHead(memoised(e, kind, token, src), src.N, head);
    const rows = src.kernelRows(kind, token);
    return rows ? rowOfHead(rows, src.N, head) : null;
  }

  return { values, stats: () => ({ computed }) };
}
