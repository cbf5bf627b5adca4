// The ConceptMap's data: the unit list of a block (labelled units only, highest IoU first,
// filtered by category), the bars, the readout, colours, and a decoded `unit_maps` reply.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeFloat16 } from "../src/float16.js";
import { CONCEPT_LABELS as LABELS } from "./helpers.js";
import { barsOf, barText, blockPosition, brightestCell, categoryColours, decodeUnit, mapRange, unitKey, unitRows, FAMILY_COLOURS } from "../src/concepts/data.js";

const CATS = ["colour", "texture", "class"];

test("a block's list holds its labelled units, highest IoU first, ties by unit", () => {
  assert.deepEqual(unitRows(LABELS, 0).map((r) => [r.unit, r.name, r.category, r.iou]), [[2, "stripes", "texture", 0.2], [0, "red", "colour", 0.05], [3, "red", "colour", 0.05]]);
  assert.deepEqual(unitRows(LABELS, 0, "colour").map((r) => r.unit), [0, 3]);
  assert.deepEqual(unitRows(LABELS, 1, "colour"), []);
  assert.deepEqual(unitRows(LABELS, -1), []);
});

test("blocks are found among the labelled ones; the bars carry each category's share in order", () => {
  assert.equal(blockPosition(LABELS, 5), 1);
  assert.equal(blockPosition(LABELS, 4), -1);
  assert.equal(blockPosition({}, 0), -1);
  const bars = barsOf(LABELS, CATS);
  assert.deepEqual(bars[0], { layer: 3, shares: [2 / 3, 1 / 3, 0], concepts: 2, labelled: 3, units: 4 });
  assert.equal(barText(bars[0], CATS), "block 3: 3 of 4 units labelled, 2 distinct concepts (colour 67%, texture 33%, class 0%)");
  assert.equal(barText(undefined, CATS), "");
});

test("the concept families keep their colours; other categories take the series colours", () => {
  const c = categoryColours(["colour", "mine", "class", "yours"]);
  assert.equal(c.colour, FAMILY_COLOURS.colour);
  assert.equal(c.class, FAMILY_COLOURS.class);
  assert.equal(c.mine, "#0072b2");
  assert.equal(c.yours, "#e69f00");
});

test("a unit_maps reply decodes to its maps and images; the brightest cell is the first maximum", () => {
  const values = [0, 1, 2, 9, 3, 1, /* map 1 */ 5, 5, 0, 0, 0, 0];
  const result = { layer: 5, unit: 1, images: [7, 2], peaks: [9, 5], arrays: [{ name: "maps", shape: [2, 2, 3], dtype: "float16" }] };
  const png = new DataView(new ArrayBuffer(3));
  const d = decodeUnit(result, [new DataView(encodeFloat16(values).buffer), png, png]);
  assert.deepEqual([d.k, d.gh, d.gw, d.pngs.length, d.images], [2, 2, 3, 2, [7, 2]]);
  assert.deepEqual(Array.from(d.maps), values);
  assert.deepEqual(brightestCell(d.maps, 2, 3, 0), { row: 1, col: 0, value: 9 });
  assert.deepEqual(brightestCell(d.maps, 2, 3, 1), { row: 0, col: 0, value: 5 });
  assert.deepEqual(mapRange(d.maps), [0, 9]);
  assert.deepEqual(mapRange([2, 2]), [1, 3]);
  assert.throws(() => decodeUnit(result, [new DataView(encodeFloat16(values).buffer), png]), /has 1 images for 2 maps/);
  assert.throws(() => decodeUnit({ arrays: [] }, []), /lacks its maps/);
  assert.equal(unitKey(5, 1), "5:1");
});
