// The explorer's words: the text readout under the large view, the head labels, the focus
// title and the loading line. Pure functions of values to strings (shown with textContent).

import { tokenToPatch } from "../geometry.js";
import { argmaxFrom } from "../attention.js";
import { extraPart } from "./state.js";

/** A share in [0, 1] as a percentage: one decimal, three below 0.1%. */
export function pct(v) {
  return `${(100 * v).toFixed(v < 0.001 ? 3 : 1)}%`;
}

/**
 * Name of token t: "—" for none (t < 0), the upper-cased prefix name (or "PREFIX i"), else
 * "patch (row r, col c)".
 * @param {number} t token (prefix tokens first, then patches row-major)
 * @param {string[]} prefixNames names of the P prefix tokens
 * @param {number} gw patch columns
 */
export function tokenLabel(t, prefixNames, gw) {
  const P = prefixNames.length;
  if (t < 0) return "—";
  if (t < P) return (prefixNames[t] || `prefix ${t}`).toUpperCase();
  const { row, col } = tokenToPatch(t, P, gw);
  return `patch (row ${row}, col ${col})`;
}

function sum(values, from, to) {
  let s = 0;
  for (let i = from; i < to; i++) s += values[i];
  return s;
}

/**
 * Readout of a token map (modes row, column, cls, rollout).
 * @param {object} o
 * @param {string} o.mode
 * @param {Float32Array} o.values N attention shares: the query's row (row, cls, rollout) or the key's column (column)
 * @param {number} o.numPrefix P
 * @param {number} o.query the query (the key in column mode) the values belong to
 * @param {number} o.hover token under the pointer, -1 for none
 * @param {boolean} o.pinned whether the query is pinned
 * @param {(t: number) => string} o.label token names (tokenLabel)
 */
export function tokenReadout({ mode, values, numPrefix: P, query: q, hover, pinned, label }) {
  const N = values.length;
  const best = argmaxFrom(values, P);
  if (mode === "column") {
    return `key ${label(q)}: receives ${pct(sum(values, P, N) / (N - P))} of each patch query's attention on average; ` +
      `most from ${label(best)} (${pct(values[best])})`;
  }
  let text = `${pinned && mode !== "cls" ? "pinned " : ""}query ${label(q)} → strongest key among patches: ${label(best)} (${pct(values[best])})` +
    (P > 0 ? `; prefix tokens get ${pct(sum(values, 0, P))}` : "");
  if (hover >= 0 && hover !== q) text += `; under the pointer ${label(hover)}: ${pct(values[hover])}`;
  return text;
}

/**
 * Readout of an aligned map.
 * @param {object} o
 * @param o.grid from alignedGrid
 * @param {number} o.cell hovered cell of the aligned canvas, -1 for none
 * @param {Float32Array|null} o.values the head's aligned map (grid.cells mean shares), null while missing
 * @param {number} o.head
 */
export function alignedReadout({ grid, cell, values, head }) {
  if (cell < 0 || !values) return "centre cell = the query itself; hover a cell to read its offset and share";
  const { dy, dx } = grid.offsetOf(cell);
  return `offset (dy ${dy}, dx ${dx}) patches from the query: ${pct(values[cell])} of head ${head}'s attention on average`;
}

/**
 * Label under a small multiple: "head h", with its tag when it has one; in rollout mode it
 * says what the small map shows ("head h: query → keys"), unlike the large view's rollout.
 */
export function headLabelText(head, tag, mode = "row") {
  const name = mode === "rollout" ? `head ${head}: query → keys` : `head ${head}`;
  return tag ? `${name} · ${tag}` : name;
}

/**
 * Caption over the small multiples: what each head's map shows in this mode.
 * @param {object} o
 * @param {{id: string, label: string}[]} o.modes the `_modes` trait
 */
export function headsCaptionText({ mode, layer, modes }) {
  if (mode === "rollout") return `each head: query → keys of layer ${layer} alone (not rolled out)`;
  if (mode === "aligned") return `each head: attention by offset from the query, mean over queries, layer ${layer}`;
  const m = (modes || []).find((x) => x.id === mode);
  return `each head: ${m ? m.label : mode}, layer ${layer}`;
}

/**
 * Axis hint of the aligned map under the large view.
 * @param grid from alignedGrid (rows = 2 gh - 1, cols = 2 gw - 1)
 */
export function alignedAxesText(grid) {
  const dy = (grid.rows - 1) / 2;
  const dx = (grid.cols - 1) / 2;
  return `axes: offset from the query in patches, dx −${dx}…+${dx} → right, dy −${dy}…+${dy} ↓ down; ` +
    "the dashed axes cross at the query (outlined)";
}

/**
 * Title over the large view.
 * @param {object} o
 * @param {{id: string, label: string}[]} o.modes the `_modes` trait
 */
export function focusTitleText({ mode, layer, head, tag, modes }) {
  if (mode === "rollout") return `rollout to layer ${layer} (blocks 0–${layer}, mean of heads): query → keys`;
  const m = (modes || []).find((x) => x.id === mode);
  return `layer ${layer} · head ${head}${tag ? ` · ${tag}` : ""} · ${m ? m.label : mode}`;
}

/** Status line while sel's data is on the way. */
export function loadingText(sel) {
  return `loading layer ${sel.layer}${extraPart(sel.mode) ? ` (${sel.mode})` : ""}…`;
}
