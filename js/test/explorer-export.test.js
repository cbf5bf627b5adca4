// The explorer's PNG composite (export.js): layout in known numbers, pixels where the widget's
// canvases go, text cut to fit, and the PNG bytes.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Blob as NodeBlob } from "node:buffer";
import { installDom, pixel } from "./helpers.js";
import { exportLayout, composeExport, fitText, exportFileName, canvasPng, exportParts, explorerPng, whenDrawn, PAD } from "../src/explorer/export.js";

before(() => installDom());

function filled(w, h, color) {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  const ctx = c.getContext("2d");
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, w, h);
  return c;
}

const size = (w, h) => ({ width: w, height: h });

test("layout: title, focus column (title, map, colour bar, words) and a 2 x 2 head grid beside it", () => {
  const L = exportLayout({
    title: "toy · layer 0",
    focus: [{ text: "head 0" }, { canvas: size(380, 380) }, { canvas: size(160, 8) }, { text: "max 8.6 %" }],
    heads: { columns: 2, cells: [0, 1, 2, 3].map(() => ({ canvas: size(150, 150) })) },
  });
  // top = PAD + title line 20 + 4 = 36; items stack 16, 384, 12, 16 high
  assert.deepEqual(L.focus.map((f) => f.y), [36, 52, 436, 448]);
  assert.equal(L.focusWidth, 380);
  // grid at x = 12 + 380 + 18 = 410; cells 150 wide + 6 gap, 150 + 14 label + 2 high + 6 gap
  assert.deepEqual(L.cells, [{ x: 410, y: 36 }, { x: 566, y: 36 }, { x: 410, y: 208 }, { x: 566, y: 208 }]);
  assert.deepEqual([L.width, L.height], [410 + 2 * 156 - 6 + PAD, 464 + PAD]);
});

test("layout of a tall grid: the image is as high as the grid; a caption moves the grid down one line", () => {
  const L = exportLayout({
    title: "",
    focus: [{ canvas: size(100, 100) }],
    heads: { caption: "row of each head", columns: 1, cells: [0, 1, 2].map(() => ({ canvas: size(50, 50) })) },
  });
  assert.deepEqual(L.cells.map((c) => c.y), [12 + 16, 12 + 16 + 72, 12 + 16 + 144]);
  assert.equal(L.height, 12 + 16 + 3 * 72 - 6 + PAD);
  assert.deepEqual(L.headsCaption, { x: 12 + 100 + 18, y: 12 });
});

test("compose: white background, the widget's canvases at their places scaled 2x, the focused head outlined", () => {
  const focus = filled(40, 30, "#ff0000");
  const heads = [filled(20, 20, "#0000ff"), filled(20, 20, "#00ff00")];
  const parts = {
    title: "t",
    focus: [{ canvas: focus }],
    heads: { columns: 2, cells: heads.map((canvas, i) => ({ canvas, label: `head ${i}`, focused: i === 1 })) },
  };
  const L = exportLayout(parts);
  const out = composeExport(document, parts, { scale: 2 });
  assert.deepEqual([out.width, out.height], [2 * L.width, 2 * L.height]);
  assert.deepEqual(pixel(out, 2 * L.width - 2, 2 * L.height - 2), [255, 255, 255, 255]);
  const f = L.focus[0];
  assert.deepEqual(pixel(out, 2 * (f.x + 39) + 1, 2 * (f.y + 29) + 1), [255, 0, 0, 255], "last px of the focus map, scaled");
  assert.deepEqual(pixel(out, 2 * (f.x + 40) + 1, 2 * (f.y + 10)), [255, 255, 255, 255], "nothing right of it");
  const [c0, c1] = L.cells;
  assert.deepEqual(pixel(out, 2 * (c0.x + 10), 2 * (c0.y + 10)), [0, 0, 255, 255]);
  assert.deepEqual(pixel(out, 2 * (c1.x + 10), 2 * (c1.y + 10)), [0, 255, 0, 255]);
  assert.deepEqual(pixel(out, 2 * (c1.x - 2), 2 * (c1.y + 10)), [240, 160, 32, 255], "focused head's outline");
  assert.deepEqual(pixel(out, 2 * (c0.x - 2), 2 * (c0.y + 10)), [255, 255, 255, 255], "no outline on the others");
  assert.throws(() => composeExport(document, parts, { scale: 1.5 }), /scale must be a whole number 1\.\.8, got 1\.5/);
});

test("fitText cuts with an ellipsis to the longest prefix that fits", () => {
  const ctx = { measureText: (s) => ({ width: 10 * s.length }) };
  assert.equal(fitText(ctx, "head 3", 60), "head 3");
  assert.equal(fitText(ctx, "head 3 · offset-local", 60), "head …");
  assert.equal(fitText(ctx, "abc", 5), "");
});

test("file names keep the selection and drop characters a file system dislikes", () => {
  assert.equal(exportFileName({ model: "zoo:dino / v2", image: 1, layer: 3, head: 2, mode: "row" }), "vitwidgets-zoo_dino_v2-image1-layer3-head2-row.png");
});

test("canvasPng resolves with the bytes of toBlob's PNG and rejects when the browser gives none", async () => {
  const bytes = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
  const ok = { toBlob: (cb, type) => cb(new NodeBlob([bytes], { type })) }; // a browser's Blob (jsdom's has no arrayBuffer)
  assert.deepEqual(await canvasPng(ok), bytes);
  await assert.rejects(canvasPng({ toBlob: (cb) => cb(null) }), /could not encode the PNG/);
});

function fakeApp({ ready = "true", error = "" } = {}) {
  const state = { mode: "row", _modes: [{ id: "row", label: "query → keys" }], model_name: "toy", image_index: 0, layer: 2, num_layers: 4 };
  const text = (t) => Object.assign(document.createElement("span"), { textContent: t });
  const legend = filled(120, 8, "#808080");
  const view = {
    root: Object.assign(document.createElement("div"), {}),
    focusTitle: text("head 1 · query → keys"), focusCanvas: filled(40, 40, "#ff0000"), focusCaption: text(""),
    legend, legendLow: text("0"), legendHigh: text("max 8.6 %"), headsCaption: text("each head: query → keys"),
  };
  Object.assign(view.root.dataset, { ready, error, query: "5" });
  const heads = [0, 1].map((hd) => {
    const cell = document.createElement("div");
    cell.dataset.focused = String(hd === 1);
    return { canvas: filled(20, 20, "#0000ff"), label: text(`head ${hd}`), cell };
  });
  return { model: { get: (k) => state[k] }, view, structure: { heads } };
}

test("exportParts reads what the widget shows: title, focus title, colour bar words, head labels, the focused head", () => {
  const app = fakeApp();
  const parts = exportParts(app);
  assert.equal(parts.title, "toy · image 0 · layer 2 / 3 · query → keys · query token 5");
  assert.deepEqual(parts.focus.map((it) => it.text ?? (it.before !== undefined ? `bar ${it.before}…${it.after}` : "canvas")),
    ["head 1 · query → keys", "canvas", "bar 0…max 8.6 %"]);
  assert.equal(parts.focus[1].canvas, app.view.focusCanvas);
  assert.equal(parts.heads.caption, "each head: query → keys");
  assert.deepEqual(parts.heads.cells.map((c) => [c.label, c.focused]), [["head 0", false], ["head 1", true]]);
  assert.equal(parts.heads.columns, 2);
});

test("explorerPng refuses to export a selection that is not drawn yet, saying why", async () => {
  await assert.rejects(explorerPng(fakeApp({ ready: "false", error: "the kernel restarted: re-run this cell" })),
    /has not drawn this selection yet \(the kernel restarted: re-run this cell\): wait for it, then export again/);
});

test("whenDrawn waits for the root's data-ready to turn true, and gives up after its time with the reason", async () => {
  const root = document.createElement("div");
  root.dataset.ready = "false";
  const drawn = whenDrawn(root, 1000);
  setTimeout(() => { root.dataset.ready = "true"; }, 80);
  await drawn;
  root.dataset.ready = "false";
  root.dataset.error = "ValueError: layer 2 is broken";
  const t0 = Date.now();
  await assert.rejects(whenDrawn(root, 120), /not drawn this selection yet \(ValueError: layer 2 is broken\)/);
  assert.ok(Date.now() - t0 >= 100);
});
