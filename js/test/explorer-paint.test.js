import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel, MODES, COLORMAPS, pixel } from "./helpers.js";
import { createByteLru, partKey } from "../src/explorer/state.js";
import { createLayerValues } from "../src/explorer/layervalues.js";
import { buildView, buildStructure } from "../src/explorer/view.js";
import { shownQuery, queryMarks, alignedMarks, sizeCanvas, paint, updateReadout, drawBases, drawLegend, tokenValues, layerSource } from "../src/explorer/paint.js";

before(() => installDom());

test("the query drawn: pinned, else hovered, else CLS, else the centre patch", () => {
  const s = { N: 13, P: 1, gh: 3, gw: 4 };
  assert.equal(shownQuery(s, 5, 7), 5);
  assert.equal(shownQuery(s, -1, 7), 7);
  assert.equal(shownQuery(s, -1, -1), 0);
  assert.equal(shownQuery(s, 99, -1), 0, "a pinned token outside the model is ignored");
  assert.equal(shownQuery({ N: 12, P: 0, gh: 3, gw: 4 }, -1, -1), 1 * 4 + 2);
});

test("marks and canvas sizes", () => {
  assert.deepEqual(queryMarks("cls", 5, true), [{ token: 0, color: "#ffffff" }]);
  assert.deepEqual(queryMarks("row", 5, true), [{ token: 5, color: "#ff9800" }]);
  assert.deepEqual(queryMarks("row", 5, false), [{ token: 5, color: "#ffffff" }]);
  assert.deepEqual(queryMarks("row", -1, false), []);
  assert.deepEqual(alignedMarks(17, -1, true), [{ token: 17, color: "#ffffff", lineWidth: 1 }]);
  assert.deepEqual(alignedMarks(17, 3, false), [{ token: 3, color: "#ff9800", lineWidth: 1 }]);
  const canvas = document.createElement("canvas");
  sizeCanvas(canvas, { width: 40, height: 30 });
  assert.deepEqual([canvas.width, canvas.height], [40, 30]);
});

/** Kernel rows held in a Map (key kind:token), recording what paint asks for in `wants`. */
function fakeRows() {
  const store = new Map();
  const wants = [];
  return {
    store, wants,
    get: (kind, image, layer, token) => store.get(`${kind}:${image}:${layer}:${token}`),
    want: (kind, image, layer, token) => wants.push(`${kind}:${image}:${layer}:${token}`),
  };
}

/** An explorer app on a 2 x 2 grid without prefix tokens, 2 heads, with layer 0 cached (dense, or an entry given). */
function makeApp(mode, entry = null) {
  const model = new FakeModel({
    grid: [2, 2], prefix_names: [], num_heads: 2, num_layers: 1, image_index: 0, layer: 0, head: 1, query: -1, mode,
    colormap: "gray", opacity: 1, log_scale: false, head_tags: { "0:1": "offset" }, _modes: MODES, _colormaps: COLORMAPS,
  });
  const view = buildView(document.body.appendChild(document.createElement("div")));
  const app = {
    model, view, cache: createByteLru(1 << 20), values: createLayerValues(), rows: fakeRows(), structure: null, image: null,
    hover: -1, alignedHover: -1, paintCount: 0, scratch: document.createElement("canvas"),
  };
  app.structure = buildStructure(view, model, () => {});
  drawBases(app);
  const attn = new Float32Array(2 * 4 * 4);
  for (let q = 0; q < 4; q++) { attn[q * 4 + q] = 1; attn[16 + q * 4 + 3] = 1; } // head 0: itself; head 1: patch 3
  app.cache.set(partKey("attention", 0, 0), entry ?? { form: "dense", attention: attn });
  return app;
}

test("paint waits for the mode's extra part, then draws every aligned map", () => {
  const app = makeApp("aligned");
  assert.equal(paint(app), false, "no aligned array yet");
  const aligned = new Float32Array(2 * 9);
  aligned[4] = 1; // head 0: all on the centre
  aligned[9 + 8] = 1; // head 1: all on (dy 1, dx 1)
  app.cache.set(partKey("aligned", 0, 0), { form: "dense", aligned });
  app.alignedHover = 8;
  assert.equal(paint(app), true);
  const { root, focusCanvas, readout, focusTitle } = app.view;
  assert.equal(root.dataset.ready, "true");
  assert.equal(root.dataset.paintCount, "1");
  const s = app.structure;
  assert.equal(focusCanvas.width, s.alignedFocus.width);
  const centreOf = (layout, t) => { const r = layout.cellRect(t); return [r.x + r.w / 2, r.y + r.h / 2]; };
  assert.deepEqual(pixel(focusCanvas, ...centreOf(s.alignedFocus, 8)).slice(0, 3), [255, 255, 255], "head 1 focused");
  assert.deepEqual(pixel(s.heads[0].canvas, ...centreOf(s.alignedSmall, 4)).slice(0, 3), [255, 255, 255]);
  assert.equal(readout.textContent, "offset (dy 1, dx 1) patches from the query: 100.0% of head 1's attention on average");
  assert.equal(focusTitle.textContent, "layer 0 · head 1 · offset · aligned average");
  assert.deepEqual(s.heads.map((c) => [c.label.textContent, c.cell.dataset.focused]), [["head 0", "false"], ["head 1 · offset", "true"]]);
});

test("token maps: the query's row on every head, the readout follows the pointer", () => {
  const app = makeApp("row");
  app.hover = 0;
  assert.equal(paint(app), true);
  assert.equal(app.view.root.dataset.query, "0");
  assert.equal(app.view.root.dataset.attentionForm, "dense");
  assert.deepEqual(app.rows.wants, [], "a dense layer needs no kernel rows");
  const s = app.structure;
  const r = s.small.cellRect(0);
  assert.deepEqual(pixel(s.heads[0].canvas, r.x + r.w / 2, r.y + r.h / 2).slice(0, 3), [255, 255, 255]);
  assert.equal(app.view.readout.textContent, "query patch (row 0, col 0) → strongest key among patches: patch (row 1, col 1) (100.0%)");
  app.model.set("mode", "rollout");
  updateReadout(app);
  assert.equal(app.view.readout.textContent, "", "no rollout yet");
  app.cache.set(partKey("rollout", 0, 0), { form: "dense", rollout: new Float32Array([0, 0.5, 0.5, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]) });
  assert.equal(paint(app), true);
  assert.equal(app.view.focusTitle.textContent, "rollout to layer 0 (blocks 0–0, mean of heads): query → keys");
  assert.match(app.view.readout.textContent, /^query patch \(row 0, col 0\) → strongest key among patches: patch \(row 0, col 1\) \(50\.0%\)/);
});

test("a kernel-form layer asks for the shown query's rows, then paints from them", () => {
  const app = makeApp("row", { form: "kernel" });
  app.hover = 2;
  assert.equal(paint(app), false);
  assert.deepEqual(app.rows.wants, ["row:0:0:2"]);
  assert.equal(app.view.root.dataset.attentionForm, "kernel");
  // [H=2, N=4]: head 0 looks at patch 1, head 1 at patch 3
  app.rows.store.set("row:0:0:2", new Float32Array([0, 1, 0, 0, 0, 0, 0, 1]));
  assert.equal(paint(app), true);
  assert.equal(app.view.readout.textContent, "query patch (row 1, col 0) → strongest key among patches: patch (row 1, col 1) (100.0%)", "head 1 focused");
  assert.deepEqual(app.rows.wants, ["row:0:0:2"], "nothing more asked for");
});

test("rollout mode over kernel forms wants the heads' rows and the rollout row of the query", () => {
  const app = makeApp("rollout", { form: "kernel" });
  app.cache.set(partKey("rollout", 0, 0), { form: "kernel" });
  app.hover = 1;
  assert.equal(paint(app), false);
  assert.deepEqual(app.rows.wants, ["row:0:0:1", "rollout:0:0:1"]);
  app.rows.store.set("row:0:0:1", new Float32Array(8).fill(0.25));
  const sel = { image: 0, layer: 0, mode: "rollout" };
  assert.deepEqual(tokenValues(app, sel, 1, 1).missing, [{ kind: "rollout", token: 1 }]);
  app.rows.store.set("rollout:0:0:1", new Float32Array([0.1, 0.2, 0.3, 0.4]));
  const vals = tokenValues(app, sel, 1, 1);
  assert.deepEqual([vals.missing, [...vals.focus].map((v) => +v.toFixed(3))], [[], [0.1, 0.2, 0.3, 0.4]]);
  assert.equal(layerSource(app, sel).rollout.form, "kernel");
  assert.equal(paint(app), true);
});

test("cls mode reads query 0's row; column mode the key's column", () => {
  const app = makeApp("cls");
  const sel = (mode) => ({ image: 0, layer: 0, mode });
  assert.deepEqual([...tokenValues(app, sel("cls"), 3, 0).focus], [1, 0, 0, 0], "head 0: query 0 looks at itself");
  assert.deepEqual([...tokenValues(app, sel("column"), 3, 1).focus], [1, 1, 1, 1], "head 1: every query looks at key 3");
  assert.deepEqual([...tokenValues(app, sel("column"), 2, 0).heads[0]], [0, 0, 1, 0]);
});

test("the legend spans the colour map", () => {
  const legend = document.createElement("canvas");
  legend.width = 160;
  legend.height = 8;
  drawLegend(legend, "gray", true);
  assert.deepEqual(pixel(legend, 0, 4).slice(0, 3), [0, 0, 0]);
  assert.deepEqual(pixel(legend, 159, 4).slice(0, 3), [255, 255, 255]);
  assert.match(legend.title, /log/);
  assert.throws(() => drawLegend(legend, "jet", false), /unknown colour map "jet" \(known: viridis, magma, inferno, gray\)/);
});

/** Layer 0 of a 2 x 2 grid, 2 heads: query 0's rows are [0.5, 0.5, 0, 0] (head 0) and [0.1, 0.1, 0.1, 0.7] (head 1). */
function twoPeaks() {
  const attn = new Float32Array(2 * 4 * 4);
  attn.set([0.5, 0.5, 0, 0], 0);
  attn.set([0.1, 0.1, 0.1, 0.7], 16);
  return { form: "dense", attention: attn };
}
const centreRed = (canvas, layout, t) => { const r = layout.cellRect(t); return pixel(canvas, r.x + r.w / 2, r.y + r.h / 2)[0]; };

test("the scale sets each head's shade: its own top, the layer's top, or 100 %; the colour bar says it", () => {
  const app = makeApp("row", twoPeaks());
  app.hover = 0;
  const s = app.structure;
  const shadeOfHead0 = () => centreRed(s.heads[0].canvas, s.small, 0);
  const legend = () => [app.view.legendLow.textContent, app.view.legendHigh.textContent, app.view.root.dataset.scaleMax];
  assert.equal(paint(app), true);
  assert.equal(shadeOfHead0(), 255, "per map: head 0's 50 % is its top");
  assert.deepEqual(legend(), ["0%", "max 70.0%", String(Math.fround(0.7))], "the large view shows head 1");
  assert.deepEqual(s.heads.map((c) => Number(c.canvas.dataset.vmax)), [0.5, Math.fround(0.7)]);
  assert.match(s.heads[0].cell.title, /brightest colour = 50\.0%/);
  app.model.set("scale", "layer");
  paint(app);
  assert.ok(Math.abs(shadeOfHead0() - 255 * 0.5 / 0.7) <= 3, `per layer: 50 % of the layer's 70 % top (${shadeOfHead0()})`);
  assert.equal(app.view.legendHigh.textContent, "layer max 70.0%");
  app.model.set("scale", "absolute");
  paint(app);
  assert.ok(Math.abs(shadeOfHead0() - 255 * 0.5) <= 3, `absolute: 50 % of 100 % (${shadeOfHead0()})`);
  assert.deepEqual(legend(), ["0%", "100.0%", "1"]);
  app.model.set("log_scale", true);
  paint(app);
  assert.deepEqual(legend().slice(0, 2), ["0.1%", "100.0% (log)"]);
});

test("the rollout keeps its own top on the layer scale; labels say what each view shows", () => {
  const app = makeApp("rollout", twoPeaks());
  app.model.set("scale", "layer");
  app.hover = 0;
  app.cache.set(partKey("rollout", 0, 0), { form: "dense", rollout: new Float32Array([0.2, 0.3, 0.4, 0.1, ...new Array(12).fill(0.25)]) });
  assert.equal(paint(app), true);
  assert.equal(Number(app.view.focusCanvas.dataset.vmax), Math.fround(0.4));
  assert.equal(app.view.legendHigh.textContent, "max 40.0%", "the rollout's own top, not the layer's");
  assert.match(app.view.colorbar.title, /^Colour of the rollout to layer 0:/);
  assert.deepEqual(app.structure.heads.map((c) => c.label.textContent), ["head 0: query → keys", "head 1: query → keys · offset"]);
  assert.equal(app.view.headsCaption.textContent, "each head: query → keys of layer 0 alone (not rolled out)");
  assert.equal(app.view.focusCaption.textContent, "");
});

test("grid lines follow the grid_lines trait; dim darkens the image in the bases", async () => {
  const app = makeApp("row", twoPeaks());
  app.hover = 0;
  const s = app.structure;
  const line = s.focus.cell; // x of the line between columns 0 and 1
  const at = () => pixel(app.view.focusCanvas, line, 2).slice(0, 3);
  paint(app);
  const without = at();
  app.model.set("grid_lines", true);
  paint(app);
  assert.notDeepEqual(at(), without, "a line between the patches");
  assert.deepEqual(pixel(app.view.focusCanvas, line + 2, 2).slice(0, 3), pixel(app.view.focusCanvas, line + 4, 2).slice(0, 3), "cells stay flat");
  const image = document.createElement("canvas");
  image.width = image.height = 8;
  const ictx = image.getContext("2d");
  ictx.fillStyle = "rgb(200, 200, 200)";
  ictx.fillRect(0, 0, 8, 8);
  app.image = image;
  drawBases(app);
  const bright = pixel(s.baseFocus, 3, 3)[0];
  app.model.set("dim", 0.75);
  drawBases(app);
  assert.ok(Math.abs(pixel(s.baseFocus, 3, 3)[0] - bright * 0.25) <= 2, "dim 0.75 leaves a quarter of the brightness");
});

test("aligned maps get the axis hint and share the layer's top on the layer scale", () => {
  const app = makeApp("aligned");
  app.model.set("scale", "layer");
  const aligned = new Float32Array(2 * 9);
  aligned[4] = 0.6;
  aligned[9 + 8] = 0.3;
  app.cache.set(partKey("aligned", 0, 0), { form: "dense", aligned });
  assert.equal(paint(app), true);
  assert.deepEqual(app.structure.heads.map((c) => Number(c.canvas.dataset.vmax)), [Math.fround(0.6), Math.fround(0.6)]);
  assert.match(app.view.focusCaption.textContent, /^axes: offset from the query in patches, dx −1…\+1 → right, dy −1…\+1 ↓ down/);
});

test("the layer scale is the same whether the layer came dense or as the kernel's rows", () => {
  const dense = makeApp("row", twoPeaks());
  const kernel = makeApp("row", { form: "kernel" });
  for (const app of [dense, kernel]) { app.model.set("scale", "layer"); app.hover = 0; }
  kernel.rows.store.set("row:0:0:0", new Float32Array([0.5, 0.5, 0, 0, 0.1, 0.1, 0.1, 0.7]));
  assert.equal(paint(dense), true);
  assert.equal(paint(kernel), true);
  const tops = (app) => app.structure.heads.map((c) => c.canvas.dataset.vmax);
  assert.deepEqual(tops(kernel), tops(dense));
  assert.deepEqual(tops(kernel), [String(Math.fround(0.7)), String(Math.fround(0.7))]);
  assert.equal(kernel.view.legendHigh.textContent, dense.view.legendHigh.textContent);
});

test("the contour trait outlines the upper cells of every map", () => {
  const app = makeApp("row", twoPeaks());
  app.hover = 0;
  const s = app.structure;
  // just left of head 1's peak, patch (1, 1): dark outside its outline
  const outside = () => pixel(app.view.focusCanvas, s.focus.cell - 1, s.focus.cell + 5).slice(0, 3);
  paint(app);
  assert.notDeepEqual(outside(), [0, 0, 0]);
  app.model.set("contour", 0.5);
  paint(app);
  assert.deepEqual(outside(), [0, 0, 0]);
  const small = pixel(s.heads[1].canvas, s.small.cell - 1, s.small.cell + 3).slice(0, 3);
  assert.deepEqual(small, [0, 0, 0], "the small maps too");
});
