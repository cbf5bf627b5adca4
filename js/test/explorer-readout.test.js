import { test } from "node:test";
import assert from "node:assert/strict";
import { alignedGrid } from "../src/geometry.js";
import { pct, tokenLabel, tokenReadout, alignedReadout, headLabelText, focusTitleText, loadingText, headsCaptionText, alignedAxesText } from "../src/explorer/readout.js";
import { MODES } from "./helpers.js";

const label = (t) => tokenLabel(t, ["cls"], 2);

test("percentages and token names", () => {
  assert.equal(pct(0.5), "50.0%");
  assert.equal(pct(0.0004), "0.040%");
  assert.equal(label(-1), "—");
  assert.equal(label(0), "CLS");
  assert.equal(label(4), "patch (row 1, col 1)");
  assert.equal(tokenLabel(1, ["cls", ""], 3), "PREFIX 1");
});

// a 2 x 2 grid with CLS: tokens 0 (CLS), 1..4 patches
const row = new Float32Array([0.1, 0.2, 0.6, 0.05, 0.05]);

test("row readout: query, strongest patch key, prefix share, pointer", () => {
  assert.equal(tokenReadout({ mode: "row", values: row, numPrefix: 1, query: 3, hover: -1, pinned: false, label }),
    "query patch (row 1, col 0) → strongest key among patches: patch (row 0, col 1) (60.0%); prefix tokens get 10.0%");
  assert.equal(tokenReadout({ mode: "row", values: row, numPrefix: 1, query: 3, hover: 1, pinned: true, label }),
    "pinned query patch (row 1, col 0) → strongest key among patches: patch (row 0, col 1) (60.0%); prefix tokens get 10.0%; under the pointer patch (row 0, col 0): 20.0%");
  assert.equal(tokenReadout({ mode: "cls", values: row, numPrefix: 1, query: 0, hover: 0, pinned: true, label }),
    "query CLS → strongest key among patches: patch (row 0, col 1) (60.0%); prefix tokens get 10.0%");
  assert.equal(tokenReadout({ mode: "row", values: row.subarray(1), numPrefix: 0, query: 0, hover: -1, pinned: false, label: String }),
    "query 0 → strongest key among patches: 1 (60.0%)");
});

test("column readout: the key's mean share and its strongest query", () => {
  assert.equal(tokenReadout({ mode: "column", values: row, numPrefix: 1, query: 2, hover: 2, pinned: false, label }),
    "key patch (row 0, col 1): receives 22.5% of each patch query's attention on average; most from patch (row 0, col 1) (60.0%)");
});

test("aligned readout names the hovered offset", () => {
  const g = alignedGrid(2, 2); // 3 x 3, centre 4
  const values = new Float32Array([0, 0.1, 0, 0, 0.7, 0.2, 0, 0, 0]);
  assert.equal(alignedReadout({ grid: g, cell: 5, values, head: 3 }), "offset (dy 0, dx 1) patches from the query: 20.0% of head 3's attention on average");
  assert.equal(alignedReadout({ grid: g, cell: 1, values, head: 0 }), "offset (dy -1, dx 0) patches from the query: 10.0% of head 0's attention on average");
  const hint = "centre cell = the query itself; hover a cell to read its offset and share";
  assert.equal(alignedReadout({ grid: g, cell: -1, values, head: 0 }), hint);
  assert.equal(alignedReadout({ grid: g, cell: 5, values: null, head: 0 }), hint);
});

test("labels, titles and loading lines", () => {
  assert.equal(headLabelText(2, undefined), "head 2");
  assert.equal(headLabelText(2, "local"), "head 2 · local");
  assert.equal(focusTitleText({ mode: "column", layer: 3, head: 1, tag: "global", modes: MODES }), "layer 3 · head 1 · global · keys ← all queries");
  assert.equal(focusTitleText({ mode: "row", layer: 0, head: 0, tag: undefined, modes: MODES }), "layer 0 · head 0 · query → keys");
  assert.equal(focusTitleText({ mode: "rollout", layer: 4, head: 1, modes: MODES }), "rollout to layer 4 (blocks 0–4, mean of heads): query → keys");
  assert.equal(focusTitleText({ mode: "new", layer: 0, head: 0, modes: undefined }), "layer 0 · head 0 · new", "unknown modes show their id");
  assert.equal(loadingText({ layer: 2, mode: "row" }), "loading layer 2…");
  assert.equal(loadingText({ layer: 2, mode: "aligned" }), "loading layer 2 (aligned)…");
});

test("in rollout mode the small maps say they show each head's query → keys, unlike the large rollout", () => {
  assert.equal(headLabelText(3, undefined, "rollout"), "head 3: query → keys");
  assert.equal(headLabelText(3, "local", "rollout"), "head 3: query → keys · local");
  assert.equal(headLabelText(3, undefined, "row"), "head 3");
  assert.equal(headsCaptionText({ mode: "rollout", layer: 5, modes: MODES }), "each head: query → keys of layer 5 alone (not rolled out)");
  assert.equal(headsCaptionText({ mode: "column", layer: 2, modes: MODES }), "each head: keys ← all queries, layer 2");
  assert.match(headsCaptionText({ mode: "aligned", layer: 1, modes: MODES }), /offset from the query, mean over queries, layer 1$/);
});

test("the aligned map's axis hint names the offset ranges of the grid", () => {
  const g = { rows: 2 * 14 - 1, cols: 2 * 16 - 1 }; // a 14 x 16 patch grid
  assert.equal(alignedAxesText(g),
    "axes: offset from the query in patches, dx −15…+15 → right, dy −13…+13 ↓ down; the dashed axes cross at the query (outlined)");
});
