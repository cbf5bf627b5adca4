import { test } from "node:test";
import assert from "node:assert/strict";
import { createCanvas } from "@napi-rs/canvas";
import { gridLayout, alignedGrid } from "../src/geometry.js";
import { drawBase, paintMap, FLOOR_ALPHA, drawGridLines, drawAlignedAxes, GRID_MIN_CELL, FRAME_COLOR, drawContour } from "../src/draw.js";
import { colormapLut } from "../src/colormaps.js";

const px = (canvas, x, y) => [...canvas.getContext("2d").getImageData(x, y, 1, 1).data];

test("paints each patch cell with its colour and the prefix cell beside the grid", () => {
  // 2 x 3 grid, CLS first; t rises along the patches
  const layout = gridLayout({ gh: 2, gw: 3, numPrefix: 1, cell: 10, gap: 4 });
  const canvas = createCanvas(layout.width, layout.height);
  const scratch = createCanvas(1, 1);
  const lut = colormapLut("gray");
  const t = new Float32Array([1, 0, 0.2, 0.4, 0.6, 0.8, 1]);
  paintMap(canvas.getContext("2d"), layout, t, { lut, opacity: 1, base: null, scratch });
  for (let g = 0; g < 6; g++) {
    const r = layout.cellRect(1 + g);
    const [R, G, B, A] = px(canvas, r.x + 5, r.y + 5);
    const want = Math.round(t[1 + g] * 255);
    assert.ok(Math.abs(R - want) <= 1 && R === G && G === B, `patch ${g}: ${R} vs ${want}`);
    assert.equal(A, 255);
  }
  const cls = layout.cellRect(0);
  assert.deepEqual(px(canvas, cls.x + 5, cls.y + 5), [255, 255, 255, 255]);
  // the gap between grid and prefix column keeps the background
  assert.notDeepEqual(px(canvas, 31, 5).slice(0, 3), [255, 255, 255]);
});

test("over an image, a cell's alpha grows with its value; marks outline a cell", () => {
  const layout = gridLayout({ gh: 2, gw: 2, numPrefix: 0, cell: 16 });
  const image = createCanvas(32, 32);
  const ictx = image.getContext("2d");
  ictx.fillStyle = "rgb(255, 0, 0)";
  ictx.fillRect(0, 0, 32, 32);
  const base = createCanvas(32, 32);
  drawBase(base.getContext("2d"), layout, image);
  const canvas = createCanvas(32, 32);
  const lut = colormapLut("gray");
  paintMap(canvas.getContext("2d"), layout, new Float32Array([0, 1, 0, 0]), {
    lut, opacity: 1, base, scratch: createCanvas(1, 1), marks: [{ token: 3, color: "#00ff00", lineWidth: 2 }],
  });
  // value 1: opaque white over red
  assert.deepEqual(px(canvas, 24, 8), [255, 255, 255, 255]);
  // value 0: black at FLOOR_ALPHA over red -> red scaled by (1 - FLOOR_ALPHA)
  const [r, g, b] = px(canvas, 8, 8);
  assert.ok(Math.abs(r - 255 * (1 - FLOOR_ALPHA)) <= 2 && g === 0 && b === 0, `got ${r},${g},${b}`);
  // the mark's outline on token 3's border, its inside untouched
  assert.deepEqual(px(canvas, 16, 24).slice(0, 3), [0, 255, 0]);
  assert.notDeepEqual(px(canvas, 24, 24).slice(0, 3), [0, 255, 0]);
});

test("repaint with a transparent base does not keep the previous frame", () => {
  const layout = gridLayout({ gh: 1, gw: 1, numPrefix: 1, cell: 8, gap: 2 });
  const base = createCanvas(layout.width, layout.height);
  drawBase(base.getContext("2d"), layout, null);
  const canvas = createCanvas(layout.width, layout.height);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ff00ff";
  ctx.fillRect(0, 0, layout.width, layout.height);
  paintMap(ctx, layout, new Float32Array([0, 0]), { lut: colormapLut("gray"), opacity: 1, base, scratch: createCanvas(1, 1) });
  assert.equal(px(canvas, 9, 2)[3], 0, "the gap is transparent again");
});

test("grid lines lie between the patch cells, only where cells are big enough, and not over prefix cells", () => {
  const layout = gridLayout({ gh: 2, gw: 3, numPrefix: 1, cell: 10, gap: 4 });
  const canvas = createCanvas(layout.width, layout.height);
  const t = new Float32Array(7).fill(1); // all white
  paintMap(canvas.getContext("2d"), layout, t, { lut: colormapLut("gray"), opacity: 1, base: null, scratch: createCanvas(1, 1), gridLines: true });
  const grey = (x, y) => px(canvas, x, y)[0];
  assert.ok(grey(10, 5) < 230 && grey(20, 5) < 230, "vertical lines at x = 10, 20");
  assert.ok(grey(5, 10) < 230, "horizontal line at y = 10");
  assert.equal(grey(5, 5), 255, "cell interiors untouched");
  assert.equal(grey(1, 5), 255, "one px inside the frame is the cell");
  assert.equal(grey(layout.cellRect(0).x + 5, 5), 255, "prefix cell untouched");
  const small = gridLayout({ gh: 2, gw: 2, cell: GRID_MIN_CELL - 1 });
  const c2 = createCanvas(small.width, small.height);
  const ctx2 = c2.getContext("2d");
  ctx2.fillStyle = "#fff";
  ctx2.fillRect(0, 0, small.width, small.height);
  drawGridLines(ctx2, small);
  assert.equal(px(c2, GRID_MIN_CELL - 1, 1)[0], 255, "cells under GRID_MIN_CELL px get no lines");
});

test("dim darkens the image under the maps by its share", () => {
  const layout = gridLayout({ gh: 1, gw: 1, cell: 8 });
  const image = createCanvas(8, 8);
  const ictx = image.getContext("2d");
  ictx.fillStyle = "rgb(200, 100, 50)";
  ictx.fillRect(0, 0, 8, 8);
  const base = createCanvas(8, 8);
  drawBase(base.getContext("2d"), layout, image, { dim: 0.5 });
  const [r, g, b] = px(base, 4, 4);
  assert.ok(Math.abs(r - 100) <= 1 && Math.abs(g - 50) <= 1 && Math.abs(b - 25) <= 1, `${[r, g, b]}`);
  drawBase(base.getContext("2d"), layout, image);
  assert.deepEqual(px(base, 4, 4).slice(0, 3), [200, 100, 50], "dim 0 leaves the image");
});

test("the aligned map's axes cross in the centre cell (the query)", () => {
  const grid = alignedGrid(3, 3); // 5 x 5 offsets
  const layout = gridLayout({ gh: grid.rows, gw: grid.cols, cell: 10 });
  const canvas = createCanvas(layout.width, layout.height);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, 50, 50);
  drawAlignedAxes(ctx, layout);
  const r = layout.cellRect(grid.centre);
  assert.deepEqual([r.x, r.y], [20, 20]);
  const lit = (x, y) => px(canvas, x, y)[0] > 60;
  assert.ok(lit(25, 1) || lit(25, 2) || lit(25, 0), "dx = 0 line at x = 25");
  assert.ok(lit(0, 25) || lit(1, 25) || lit(2, 25), "dy = 0 line at y = 25");
  assert.ok(!lit(12, 12), "nothing off the axes");
});

test("the patch grid is framed in mid grey, so a white edge cell stands apart from a white page", () => {
  const layout = gridLayout({ gh: 2, gw: 2, numPrefix: 1, cell: 10, gap: 4 });
  const canvas = createCanvas(layout.width, layout.height);
  paintMap(canvas.getContext("2d"), layout, new Float32Array(5).fill(1), { lut: colormapLut("gray"), opacity: 1, base: null, scratch: createCanvas(1, 1) });
  const grey = parseInt(FRAME_COLOR.slice(1, 3), 16);
  for (const [x, y] of [[0, 5], [19, 5], [5, 0], [5, 19]]) assert.equal(px(canvas, x, y)[0], grey, `frame at (${x}, ${y})`);
  assert.equal(px(canvas, 5, 5)[0], 255);
});

test("the contour outlines the cells at or above its level: light inside, dark outside, none between two such cells", () => {
  const layout = gridLayout({ gh: 3, gw: 4, numPrefix: 1, cell: 10, gap: 4 });
  const canvas = createCanvas(layout.width, layout.height);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "rgb(100, 100, 100)";
  ctx.fillRect(0, 0, layout.width, layout.height);
  // patches (row 1, col 1) and (row 1, col 2) at the level, the rest (and the prefix cell) below
  const t = new Float32Array(13).fill(0.2);
  t[0] = 1;
  t[1 + 1 * 4 + 1] = 0.5;
  t[1 + 1 * 4 + 2] = 0.9;
  drawContour(ctx, layout, t, 0.5);
  const red = (x, y) => px(canvas, x, y)[0];
  assert.equal(red(15, 10), 255, "top edge of (1, 1), inside");
  assert.equal(red(15, 9), 0, "top edge of (1, 1), outside");
  assert.equal(red(10, 15), 255, "left edge of (1, 1)");
  assert.equal(red(29, 15), 255, "right edge of (1, 2)");
  assert.equal(red(19, 15), 100, "no line between the two outlined cells");
  assert.equal(red(15, 15), 100, "cell interiors untouched");
  assert.equal(red(5, 5), 100, "cells below the level get none");
});
