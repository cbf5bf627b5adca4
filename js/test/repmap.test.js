// The RepresentationMap in jsdom: painted cells of known CKA values, the readout of a hovered
// cell, a click setting layer and layer_b, progress and errors in the status line.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, pixel, FakeModel } from "./helpers.js";
import widget from "../src/repmap/index.js";
import { mapLayout } from "../src/repmap/layout.js";
import { paintMap, curvePoints } from "../src/repmap/paint.js";
import { linearScale, SELECT_COLOUR } from "../src/chart.js";

before(() => installDom());

const f32 = (values) => new DataView(new Float32Array(values).buffer);
// 3 x 3 within one model: row r, col c holds (r * 3 + c) / 8 (0 .. 1)
const CKA = Array.from({ length: 9 }, (_, i) => i / 8);

function state(extra = {}) {
  return {
    num_layers: 3, num_layers_b: 3, cross: false, model_name: "toy", model_b_name: "toy", layer: 0, layer_b: 0,
    colormap: "gray", _cka: f32(CKA), _similarity: f32([0.9, 0.1, 0.2, 0.4]), _similarity_b: new DataView(new ArrayBuffer(0)),
    status: "", error: "", done: true, ...extra,
  };
}

function mount(extra) {
  const model = new FakeModel(state(extra));
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = widget.render({ model, el });
  return { model, el, root: el.querySelector(".vw-repmap"), canvas: el.querySelector("canvas.vw-repmap-canvas"), cleanup };
}

const centre = (L, rows, r, c) => [L.heat.x + (c + 0.5) * L.cell, L.heat.y + (rows - r - 0.5) * L.cell];

function mouse(canvas, type, [x, y]) {
  canvas.dispatchEvent(new window.MouseEvent(type, { clientX: x, clientY: y, bubbles: true }));
}

test("each cell shows its CKA on the gray map (row 0 at the bottom), the selected one outlined", () => {
  const { canvas, root, cleanup } = mount({ layer: 2, layer_b: 1 });
  const L = mapLayout(3, 3);
  assert.equal(root.dataset.ready, "true");
  assert.deepEqual([Number(root.dataset.frameX), Number(root.dataset.frameY), Number(root.dataset.cell)], [L.heat.x, L.heat.y, L.cell]);
  for (const [r, c] of [[0, 0], [0, 2], [1, 1], [2, 2]]) {
    const v = Math.round(255 * CKA[r * 3 + c]);
    assert.deepEqual(pixel(canvas, ...centre(L, 3, r, c)).slice(0, 3), [v, v, v], `cell ${r},${c}`);
  }
  const sel = centre(L, 3, 2, 1);
  assert.deepEqual(pixel(canvas, sel[0] - L.cell / 2 + 1, sel[1]).slice(0, 3), [0xf0, 0xa0, 0x20], "orange edge of the selected cell");
  cleanup();
});

test("hovering a cell reads its value and both blocks; a click sets layer and layer_b", () => {
  const { model, canvas, root, el, cleanup } = mount();
  const L = mapLayout(3, 3);
  mouse(canvas, "mousemove", centre(L, 3, 1, 2));
  assert.deepEqual([root.dataset.hoverRow, root.dataset.hoverCol], ["1", "2"]);
  assert.equal(Number(root.dataset.value), CKA[5]);
  assert.match(el.querySelector(".vw-readout").textContent, /^block 1 × block 2 \(toy\): CKA 0\.63 · toy block 1: token similarity 0\.20 · toy block 2: token similarity 0\.40$/);
  mouse(canvas, "click", centre(L, 3, 1, 2));
  assert.deepEqual([model.get("layer"), model.get("layer_b")], [1, 2]);
  assert.equal(model.saves, 1, "both traits in one sync");
  mouse(canvas, "mouseleave", [0, 0]);
  assert.equal(root.dataset.hoverRow, "-1");
  cleanup();
});

test("while streaming: the status line counts batches, cells not yet in stay empty, ready is false", () => {
  const { model, root, el, cleanup } = mount({ done: false, _cka: new DataView(new ArrayBuffer(0)), status: "computing CKA: 1 of 4 batches…" });
  assert.equal(root.dataset.ready, "false");
  assert.equal(el.querySelector(".vw-status").textContent, "computing CKA: 1 of 4 batches…");
  model.set("error", "ValueError: the data yielded no images");
  assert.equal(root.dataset.error, "ValueError: the data yielded no images");
  assert.equal(el.querySelector(".vw-status").dataset.kind, "error");
  cleanup();
});

test("across two models the rows and columns differ and the readout names both", () => {
  const cka = Array.from({ length: 6 }, (_, i) => i / 5); // 2 x 3
  const { canvas, el, cleanup } = mount({ cross: true, num_layers: 2, num_layers_b: 3, model_b_name: "other", _cka: f32(cka), _similarity_b: f32([0.5, 0.4, 0.3, 0.2]) });
  const L = mapLayout(2, 3);
  mouse(canvas, "mousemove", centre(L, 2, 1, 0));
  assert.match(el.querySelector(".vw-readout").textContent, /^block 1 \(toy\) × block 0 \(other\): CKA 0\.60/);
  cleanup();
});

test("the similarity curve's points sit at the column centres of the block outputs", () => {
  const frame = { x: 60, y: 0, w: 90, h: 100 };
  const ys = linearScale([0, 1], [100, 0]);
  assert.deepEqual(curvePoints(frame, [0.9, 0, 0.5, 1], ys), [[75, 100], [105, 50], [135, 0]]);
  assert.equal(typeof paintMap, "function");
  assert.equal(SELECT_COLOUR, "#f0a020");
});

test("after a kernel restart the map says so for good", async () => {
  const { model, root, el, cleanup } = mount();
  model.emit("comm_live_update");
  assert.equal(root.dataset.disconnected, "true");
  assert.match(el.querySelector(".vw-status").textContent, /the kernel restarted: re-run this cell/);
  model.set("status", "computing CKA: 2 of 4 batches…");
  assert.match(root.dataset.error, /the kernel restarted/, "a late trait change does not hide it");
  cleanup();
});
