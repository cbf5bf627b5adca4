import { test } from "node:test";
import assert from "node:assert/strict";
import { createCanvas } from "@napi-rs/canvas";
import { gridLayout } from "../src/geometry.js";
import { drawBase, paintMap, FLOOR_ALPHA } from "../src/draw.js";
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
