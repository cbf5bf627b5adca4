import { test } from "node:test";
import assert from "node:assert/strict";
import { layoutsOf, marksOf, shownPatch, MAP_SIDE, MUTUAL_COLOUR, ONE_WAY_COLOUR } from "../src/features/paint.js";
import { SELECT_COLOUR } from "../src/chart.js";

test("maps and panels have whole-pixel cells, about MAP_SIDE wide", () => {
  const { map, panel } = layoutsOf([14, 14]);
  assert.equal(map.cell, Math.floor(MAP_SIDE / 14));
  assert.equal(panel.cell, map.cell);
  assert.equal(map.numPrefix, 0);
  assert.equal(layoutsOf([2, 300]).map.cell, 2);
});

test("the hovered patch is shown, else the clicked one (a patch token), else none", () => {
  assert.deepEqual(shownPatch({ image: 1, patch: 4 }, { image: 0, query: 3, P: 1 }), { image: 1, patch: 4 });
  assert.deepEqual(shownPatch(null, { image: 2, query: 3, P: 1 }), { image: 2, patch: 2 });
  assert.equal(shownPatch(null, { image: 2, query: 0, P: 1 }), null); // CLS is no patch
  assert.equal(shownPatch(null, { image: 2, query: -1, P: 0 }), null);
});

test("the shown patch is outlined in its image and its matches elsewhere, mutual ones in green", () => {
  const shown = { image: 0, patch: 5 };
  const matches = { image: 0, patch: 5, best: [5, 7, 1], mutual: [true, true, false] };
  assert.deepEqual(marksOf(0, shown, matches), { outlines: [{ token: 5, color: SELECT_COLOUR, lineWidth: 2 }], dots: [] });
  assert.deepEqual(marksOf(1, shown, matches), { outlines: [{ token: 7, color: MUTUAL_COLOUR, lineWidth: 2 }], dots: [{ patch: 7, mutual: true }] });
  assert.deepEqual(marksOf(2, shown, matches).dots, [{ patch: 1, mutual: false }]);
  assert.equal(marksOf(2, shown, matches).outlines[0].color, ONE_WAY_COLOUR);
  assert.deepEqual(marksOf(1, { image: 0, patch: 6 }, matches), { outlines: [], dots: [] }); // another patch's matches
});
