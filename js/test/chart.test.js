// The shared chart module: scales and ticks in known numbers, the heat map's cell under a pixel
// (row 0 at the bottom), colours of known values, theme detection, and drawn pixels.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, pixel } from "./helpers.js";
import {
  LIGHT, DARK, parseColour, themeOf, linearScale, extent, tickStep, niceTicks, formatTick, integerTicks, nearestIndex,
  cellAt, cellRect, valueColour, drawHeatmap, drawMarker, drawLine, drawAxes, drawColourBar, composeChart, TITLE_HEIGHT,
} from "../src/chart.js";
import { colormapLut } from "../src/colormaps.js";

before(() => installDom());

function canvas(w, h) {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  return c;
}

test("a linear scale maps and inverts; a flat domain maps to the range's start", () => {
  const s = linearScale([-1, 11], [60, 360]);
  assert.equal(s.map(-1), 60);
  assert.equal(s.map(11), 360);
  assert.equal(s.map(5), 210);
  assert.equal(s.invert(210), 5);
  assert.equal(linearScale([2, 2], [0, 10]).map(7), 0);
});

test("ticks are round steps inside the extent; tick text has the decimals the step needs", () => {
  assert.equal(tickStep(0, 1, 5), 0.2);
  assert.equal(tickStep(0, 37, 4), 10);
  const ticks = niceTicks(0.13, 0.61, 4);
  assert.equal(ticks.length, 5);
  [0.2, 0.3, 0.4, 0.5, 0.6].forEach((v, i) => assert.ok(Math.abs(ticks[i] - v) < 1e-12, `${ticks[i]} ~ ${v}`));
  assert.deepEqual(niceTicks(-3, 3, 3), [-2, 0, 2]);
  assert.equal(formatTick(0.30000000000000004, 0.1), "0.3");
  assert.equal(formatTick(20, 10), "20");
  assert.equal(formatTick(0.025, 0.005), "0.025");
  assert.deepEqual(integerTicks(0, 11, 8), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(integerTicks(-1, 5, 8), [-1, 0, 1, 2, 3, 4, 5]);
});

test("extent skips non-finite values and widens a flat one", () => {
  assert.deepEqual(extent([3, NaN, 1], [2, Infinity]), [1, 3]);
  assert.deepEqual(extent([2, 2]), [1.8, 2.2]);
  assert.deepEqual(extent([]), [0, 1]);
});

test("nearest index: the closest entry, ties to the later one", () => {
  assert.equal(nearestIndex([-1, -0.5, 0, 0.5], 0.2), 2);
  assert.equal(nearestIndex([0, 1], 0.5), 1);
  assert.equal(nearestIndex([], 3), -1);
});

test("the cell under a pixel counts rows from the bottom; outside is null", () => {
  const frame = { x: 60, y: 8, w: 120, h: 90 }; // 3 rows x 4 cols of 30 px
  assert.deepEqual(cellAt(frame, 3, 4, 61, 9), { row: 2, col: 0 });
  assert.deepEqual(cellAt(frame, 3, 4, 179, 97), { row: 0, col: 3 });
  assert.deepEqual(cellAt(frame, 3, 4, 60 + 30 * 2 + 15, 8 + 30 * 1 + 15), { row: 1, col: 2 });
  assert.equal(cellAt(frame, 3, 4, 59, 50), null);
  assert.equal(cellAt(frame, 3, 4, 180, 50), null);
  assert.equal(cellAt(frame, 3, 4, 100, 98), null);
  assert.deepEqual(cellRect(frame, 3, 4, 0, 3), { x: 150, y: 68, w: 30, h: 30 });
});

test("a value's colour: the gray map at half the range is mid grey; NaN has none", () => {
  const gray = colormapLut("gray");
  assert.deepEqual(valueColour(gray, 0.5, 0, 1), [128, 128, 128]);
  assert.deepEqual(valueColour(gray, 2, 0, 1), [255, 255, 255]);
  assert.deepEqual(valueColour(gray, -1, 0, 1), [0, 0, 0]);
  assert.equal(valueColour(gray, NaN, 0, 1), null);
});

test("the heat map paints each value's colour in its cell, row 0 at the bottom", () => {
  const c = canvas(40, 20);
  const ctx = c.getContext("2d");
  // 2 rows x 4 cols of 10 px; row 0 = [0, 0.25, 0.5, 1], row 1 = [1, NaN, ...]
  drawHeatmap(ctx, { x: 0, y: 0, w: 40, h: 20 }, [0, 0.25, 0.5, 1, 1, NaN, 0, 0], 2, 4, { colormap: "gray", empty: "#ff0000" });
  assert.deepEqual(pixel(c, 5, 15).slice(0, 3), [0, 0, 0]);
  assert.deepEqual(pixel(c, 15, 15).slice(0, 3), [64, 64, 64]);
  assert.deepEqual(pixel(c, 35, 15).slice(0, 3), [255, 255, 255]);
  assert.deepEqual(pixel(c, 5, 5).slice(0, 3), [255, 255, 255]);
  assert.deepEqual(pixel(c, 15, 5).slice(0, 3), [255, 0, 0], "not computed yet");
});

test("themes: a light text colour means a dark page; colours parse from rgb() and hex", () => {
  assert.deepEqual(parseColour("rgb(230, 230, 230)"), [230, 230, 230]);
  assert.deepEqual(parseColour("rgba(1, 2, 3, 0.5)"), [1, 2, 3]);
  assert.deepEqual(parseColour("#0072b2"), [0, 114, 178]);
  assert.equal(parseColour("red"), null);
  const el = document.createElement("div");
  document.body.appendChild(el);
  el.style.color = "rgb(240, 240, 240)";
  assert.equal(themeOf(el).dark, true);
  assert.equal(themeOf(el).background, DARK.background);
  el.style.color = "rgb(20, 20, 20)";
  assert.equal(themeOf(el).dark, false);
  assert.equal(themeOf(null), LIGHT);
});

test("markers, lines, axes and a colour bar draw where they are asked to", () => {
  const c = canvas(100, 100);
  const ctx = c.getContext("2d");
  drawMarker(ctx, 20, 20, "circle", "#0000ff", 8);
  assert.deepEqual(pixel(c, 20, 20), [0, 0, 255, 255]);
  drawMarker(ctx, 50, 20, "square", "#0000ff", 10, "#ffffff");
  assert.deepEqual(pixel(c, 50, 20), [255, 255, 255, 255], "an open square shows the background inside");
  drawLine(ctx, [[0, 60], [100, 60]], "#00ff00", { width: 3 });
  assert.deepEqual(pixel(c, 50, 60), [0, 255, 0, 255]);
  drawAxes(ctx, { x: 10, y: 70, w: 80, h: 20 }, linearScale([0, 1], [10, 90]), linearScale([0, 1], [90, 70]), { theme: LIGHT });
  assert.equal(pixel(c, 10, 80)[3], 255, "the frame's left edge");
  drawColourBar(ctx, { x: 90, y: 0, w: 5, h: 50 }, "gray", 0, 1);
  assert.deepEqual(pixel(c, 92, 0).slice(0, 3), [255, 255, 255], "the top is the high end");
  assert.deepEqual(pixel(c, 92, 49).slice(0, 3), [0, 0, 0]);
});

test("composeChart: width x height at the scale, on the theme's background, drawn in CSS px", () => {
  const out = composeChart(document, 30, 20, (ctx) => { ctx.fillStyle = "#ff0000"; ctx.fillRect(10, 10, 5, 5); }, { scale: 2 });
  assert.deepEqual([out.width, out.height], [60, 40]);
  assert.deepEqual(pixel(out, 1, 1), [255, 255, 255, 255]);
  assert.deepEqual(pixel(out, 25, 25), [255, 0, 0, 255]);
  assert.throws(() => composeChart(document, 10, 10, () => {}, { scale: 0 }), /whole number 1\.\.8/);
  const titled = composeChart(document, 30, 20, (ctx) => { ctx.fillStyle = "#ff0000"; ctx.fillRect(10, 10, 5, 5); }, { scale: 1, title: "CKA" });
  assert.equal(titled.height, 20 + TITLE_HEIGHT, "a title line on top");
  assert.deepEqual(pixel(titled, 12, 12 + TITLE_HEIGHT), [255, 0, 0, 255], "the chart below it");
  const long = composeChart(document, 30, 20, () => {}, { scale: 1, title: "a title much wider than thirty pixels" });
  assert.ok(long.width > 100, "the canvas widens to show the whole title");
});
