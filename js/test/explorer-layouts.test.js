import { test } from "node:test";
import assert from "node:assert/strict";
import { gridLayout, fitCell } from "../src/geometry.js";
import { explorerLayouts, canvasLayout, SMALL_WIDTH, FOCUS_WIDTH } from "../src/explorer/layouts.js";

test("token and aligned layouts of a 3 x 4 grid with CLS and 2 heads", () => {
  const s = explorerLayouts({ grid: [3, 4], numPrefix: 1, numHeads: 2 });
  assert.deepEqual([s.gh, s.gw, s.P, s.H, s.N], [3, 4, 1, 2, 13]);
  assert.deepEqual([SMALL_WIDTH, FOCUS_WIDTH], [150, 380]);
  assert.equal(s.small.width, gridLayout({ gh: 3, gw: 4, numPrefix: 1, cell: fitCell(4, 1, 3, 150) }).width);
  assert.equal(s.focus.cell, fitCell(4, 1, 3, 380));
  assert.deepEqual([s.aligned.rows, s.aligned.cols, s.aligned.centre], [5, 7, 17]);
  assert.equal(s.alignedSmall.numTokens, 35);
  assert.equal(s.alignedSmall.cell, Math.floor(s.small.width / 7));
  assert.equal(s.alignedFocus.cell, Math.floor(s.focus.width / 7));
  assert.ok(s.alignedFocus.width <= s.focus.width);
});

test("aligned mode draws offsets, other modes tokens", () => {
  const s = explorerLayouts({ grid: [2, 2], numPrefix: 0, numHeads: 1 });
  assert.equal(canvasLayout(s, "aligned", true), s.alignedFocus);
  assert.equal(canvasLayout(s, "aligned", false), s.alignedSmall);
  for (const m of ["row", "column", "cls", "rollout"]) {
    assert.equal(canvasLayout(s, m, true), s.focus);
    assert.equal(canvasLayout(s, m, false), s.small);
  }
  const tiny = explorerLayouts({ grid: [14, 14], numPrefix: 5, numHeads: 12 });
  assert.ok(tiny.alignedSmall.cell >= 1, "at least a pixel per offset");
});
