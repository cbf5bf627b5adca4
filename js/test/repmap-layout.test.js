// RepresentationMap geometry and texts in known numbers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cellSide, mapLayout, blockX, cellText, ckaText, similarityText, MARGIN, CURVE_HEIGHT } from "../src/repmap/layout.js";

test("cells share a 360 px side, 6..36 px each", () => {
  assert.equal(cellSide(12, 12), 30);
  assert.equal(cellSide(3, 3), 36);
  assert.equal(cellSide(12, 24), 15);
  assert.equal(cellSide(100, 100), 6);
});

test("a 12 x 24 map: the heat map, its colour bar right of it, the curve under it", () => {
  const L = mapLayout(12, 24);
  assert.deepEqual(L.heat, { x: MARGIN.left, y: MARGIN.top, w: 360, h: 180 });
  assert.deepEqual(L.bar, { x: 60 + 360 + 12, y: 8, w: 14, h: 180 });
  assert.deepEqual(L.curve, { x: 60, y: 8 + 180 + MARGIN.gap, w: 360, h: CURVE_HEIGHT });
  assert.equal(L.width, 432 + 14 + MARGIN.right);
  assert.equal(L.height, 232 + CURVE_HEIGHT + MARGIN.bottom);
});

test("block b's x on the columns' axis is its column centre", () => {
  const frame = { x: 60, y: 0, w: 360, h: 10 };
  assert.equal(blockX(frame, 0, 12), 75);
  assert.equal(blockX(frame, 11, 12), 405);
  assert.equal(blockX(frame, 5, 6), 390, "a model of 6 blocks spreads over the same width");
});

test("readout texts name both blocks and their models", () => {
  assert.equal(cellText({ row: 3, col: 7, value: 0.8234, cross: true, nameA: "A", nameB: "B" }), "block 3 (A) × block 7 (B): CKA 0.82");
  assert.equal(cellText({ row: 3, col: 7, value: 0.8234, cross: false, nameA: "toy" }), "block 3 × block 7 (toy): CKA 0.82");
  assert.equal(ckaText(NaN), "CKA not computed yet");
  assert.equal(similarityText("toy", [0.9, 0.5, 0.25], 1), "toy block 1: token similarity 0.25");
  assert.equal(similarityText("toy", null, 1), "");
});
