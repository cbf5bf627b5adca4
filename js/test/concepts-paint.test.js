// Painting the ConceptMap: stacked bars in the categories' colours (bottom category first),
// the selected block outlined, bars found under the pointer, and a unit's maps over its images.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, pixel } from "./helpers.js";
import { barAt, barsLayout, cellAlpha, mapsLayout, paintBars, paintUnitMaps } from "../src/concepts/paint.js";
import { SELECT_COLOUR } from "../src/chart.js";

before(() => installDom());

const canvasOf = (w, h) => { const c = document.createElement("canvas"); c.width = w; c.height = h; return c; };
const hex = (s) => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));

test("each block's bar stacks its category shares bottom up in their colours; the selected one is outlined", () => {
  const L = barsLayout(2);
  const canvas = canvasOf(L.width, L.height);
  const colours = { a: "#ff0000", b: "#0000ff" };
  const bars = [{ layer: 0, shares: [0.5, 0.5], concepts: 0 }, { layer: 1, shares: [1, 0], concepts: 0 }];
  paintBars(canvas.getContext("2d"), L, { bars, categories: ["a", "b"], colours, selected: 1, hover: -1, conceptsMax: 4 });
  const { frame, step } = L;
  const x0 = frame.x + step / 2, x1 = frame.x + 1.5 * step;
  assert.deepEqual(pixel(canvas, x0, frame.y + frame.h * 0.75).slice(0, 3), [255, 0, 0], "bottom half of block 0: a");
  assert.deepEqual(pixel(canvas, x0, frame.y + frame.h * 0.25).slice(0, 3), [0, 0, 255], "top half of block 0: b");
  assert.deepEqual(pixel(canvas, x1, frame.y + frame.h * 0.25).slice(0, 3), [255, 0, 0], "block 1: all a");
  assert.deepEqual(pixel(canvas, frame.x + step + 1, frame.y + frame.h / 2).slice(0, 3), hex(SELECT_COLOUR), "block 1 outlined");
});

test("the bar under the pointer is found inside the frame only", () => {
  const L = barsLayout(3);
  const y = L.frame.y + 5;
  assert.equal(barAt(L, 3, L.frame.x + 0.5 * L.step, y), 0);
  assert.equal(barAt(L, 3, L.frame.x + 2.5 * L.step, y), 2);
  assert.equal(barAt(L, 3, L.frame.x + 3.5 * L.step, y), -1);
  assert.equal(barAt(L, 3, L.frame.x - 1, y), -1);
  assert.equal(barAt(L, 3, L.frame.x + 5, L.frame.y + L.frame.h + 5), -1);
});

test("a unit's maps cover its images cell by cell on one colour scale, opaque where it fires; cells above the threshold are outlined", () => {
  const L = mapsLayout(2, 40);
  const canvas = canvasOf(L.width, L.height);
  const img = canvasOf(4, 4);
  const g = img.getContext("2d");
  g.fillStyle = "#00ff00";
  g.fillRect(0, 0, 4, 4);
  // 2 x 2 maps; gray colour map over [0, 4]; the cell's share of the range is its opacity
  const maps = new Float32Array([0, 4, 2, 0, /* map 1 */ 0, 0, 0, 4]);
  paintUnitMaps(canvas.getContext("2d"), L, { maps, k: 2, gh: 2, gw: 2, images: [img, null], range: [0, 4], threshold: 3, colormap: "gray", opacity: 1, captions: ["a", "b"] });
  const near = (got, want, what) => assert.ok(got.every((v, i) => Math.abs(v - want[i]) <= 1), `${what}: ${got} vs ${want}`);
  near(pixel(canvas, 10, 10).slice(0, 3), [0, 255, 0], "map 0 cell (0, 0) = 0: the image");
  near(pixel(canvas, 30, 10).slice(0, 3), [255, 255, 255], "map 0 cell (0, 1) = 4: white");
  near(pixel(canvas, 10, 30).slice(0, 3), [64, 192, 64], "map 0 cell (1, 0) = 2: half gray over the image");
  near(pixel(canvas, 20.5, 10).slice(0, 3), [255, 255, 255], "cell (0, 1) outlined white (above 3)");
  const second = L.tiles[1];
  near(pixel(canvas, second.x + 30, second.y + 30).slice(0, 3), [255, 255, 255], "map 1 cell (1, 1) = 4");
  assert.equal(cellAlpha(1, 0, 4), 0.25);
  assert.equal(cellAlpha(-1, 0, 4), 0);
  assert.equal(cellAlpha(2, 2, 2), 1);
});
