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
  assert.equal(app.view.focusTitle.textContent, "rollout of blocks 0–0 (mean of heads)");
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
