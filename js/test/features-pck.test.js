import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, pixel } from "./helpers.js";
import { LIGHT, SERIES_COLOURS } from "../src/chart.js";
import { bestLayer, drawPck, layerAt, pckFrame, pckScales, PCK_SIZE } from "../src/features/pck.js";

before(() => installDom());

test("the best layer is the highest PCK, the first of ties", () => {
  assert.equal(bestLayer([0.1, 0.6, 0.6, 0.2]), 1);
  assert.equal(bestLayer([]), -1);
});

test("a click picks the block whose point is nearest", () => {
  const frame = pckFrame(PCK_SIZE);
  const { xs } = pckScales(frame, 12);
  assert.equal(layerAt(frame, 12, xs.map(7) + 3), 7);
  assert.equal(layerAt(frame, 12, 0), 0);
  assert.equal(layerAt(frame, 12, 10_000), 11);
});

test("the plot puts each block's point at its PCK and a star on the best", () => {
  const canvas = document.createElement("canvas");
  canvas.width = PCK_SIZE.width;
  canvas.height = PCK_SIZE.height;
  const frame = pckFrame(PCK_SIZE);
  const values = [0, 0.5, 1, 0.25];
  drawPck(canvas.getContext("2d"), values, { frame, layer: 0, theme: LIGHT, alpha: 0.1 });
  const { xs, ys } = pckScales(frame, 4);
  const blue = [0, 114, 178], orange = [230, 159, 0];
  assert.deepEqual(pixel(canvas, xs.map(1), ys.map(0.5)).slice(0, 3), blue);
  assert.deepEqual(pixel(canvas, xs.map(3), ys.map(0.25)).slice(0, 3), blue);
  assert.deepEqual(pixel(canvas, xs.map(2), ys.map(1) + 1).slice(0, 3), orange); // the star on block 2
  assert.equal(SERIES_COLOURS[1], "#e69f00");
});
