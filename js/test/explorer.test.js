// The explorer's render() in jsdom with real canvas pixels, against a fake kernel.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel, MODES, COLORMAPS, layerDataReply, pixel, until, tick } from "./helpers.js";
import { gridLayout, fitCell } from "../src/geometry.js";

let explorer;
before(async () => {
  installDom();
  explorer = (await import("../src/explorer/index.js")).default;
});

// grid 3 x 4 with CLS: head 0 looks at the patch right of each query (wrapping within the
// row), head 1 puts 0.9 on CLS and spreads the rest; the last layer of 3 errors.
const GH = 3, GW = 4, P = 1, H = 2, N = P + GH * GW, L = 3;
function layerAttention() {
  const a = new Float32Array(H * N * N);
  for (let q = 0; q < N; q++) {
    const row = q < P ? 0 : Math.floor((q - P) / GW);
    const col = q < P ? 0 : (q - P) % GW;
    const right = P + row * GW + ((col + 1) % GW);
    a[(0 * N + q) * N + right] = 1;
    a[(1 * N + q) * N + 0] = 0.9;
    for (let k = P; k < N; k++) a[(1 * N + q) * N + k] += 0.1 / (N - P);
  }
  return a;
}

// aligned maps [H, 2gh-1, 2gw-1] = [2, 5, 7]: head 0 looks one patch right (offset (0, 1)),
// head 1 at the query itself (the centre)
const AH = 2 * GH - 1, AW = 2 * GW - 1, A = AH * AW, CENTRE = (GH - 1) * AW + (GW - 1);
function alignedMaps() {
  const a = new Float32Array(H * A);
  a[CENTRE + 1] = 1;
  a[A + CENTRE] = 1;
  return a;
}

function makeModel() {
  const model = new FakeModel({
    model_name: "toy", num_layers: L, num_heads: H, grid: [GH, GW], patch_size: 16,
    prefix_names: ["cls"], num_images: 1, image_index: 0, layer: 0, head: 0, query: -1,
    mode: "row", colormap: "gray", opacity: 1, log_scale: false, head_tags: {},
    request_timeout_ms: 2000, _image: new DataView(new ArrayBuffer(0)), _image_format: "image/png", _thumbnails: [],
    _modes: MODES, _colormaps: COLORMAPS,
  });
  model.onSend = (msg) => {
    if (msg.kind !== "request") return;
    setTimeout(() => {
      const { layer, include } = msg.params;
      if (layer === L - 1) {
        model.emit("msg:custom", { kind: "reply", id: msg.id, ok: false, error: "ValueError: layer 2 is broken on purpose" });
        return;
      }
      const parts = [];
      if (include.includes("attention")) parts.push({ name: "attention", shape: [H, N, N], values: layerAttention() });
      if (include.includes("rollout")) parts.push({ name: "rollout", shape: [N, N], values: layerAttention().subarray(0, N * N) });
      if (include.includes("aligned")) parts.push({ name: "aligned", shape: [H, 2 * GH - 1, 2 * GW - 1], values: alignedMaps() });
      model.emit("msg:custom", ...layerDataReply(msg.id, parts));
    }, 1);
  };
  return model;
}

/** Render the explorer with a fresh fake model and wait for its first paint. */
async function mountPainted(model = makeModel()) {
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = explorer.render({ model, el });
  const root = el.querySelector(".vw-explorer");
  await until(() => root.dataset.ready === "true", "first paint");
  return { model, el, root, cleanup };
}

function hoverToken(canvas, layout, token) {
  const r = layout.cellRect(token);
  canvas.dispatchEvent(new window.MouseEvent("mousemove", { clientX: r.x + r.w / 2, clientY: r.y + r.h / 2, bubbles: true }));
}

test("hover paints every head's row from the shipped layer; keys and errors round-trip", async () => {
  const { model, el, root, cleanup } = await mountPainted();
  const first = model.sent.find((m) => m.kind === "request");
  assert.equal(first.method, "layer_data");
  assert.deepEqual(first.params, { image: 0, layer: 0, mode: "row", include: ["attention"] });

  const heads = el.querySelectorAll("canvas.vw-head");
  assert.equal(heads.length, H);
  const small = gridLayout({ gh: GH, gw: GW, numPrefix: P, cell: fitCell(GW, P, GH, 150) });
  const focus = gridLayout({ gh: GH, gw: GW, numPrefix: P, cell: fitCell(GW, P, GH, 380) });
  const focusCanvas = el.querySelector("canvas.vw-focus");
  assert.equal(focusCanvas.width, focus.width);

  // hover patch (1, 1) = token 6: head 0's brightest cell is (1, 2) = token 7
  hoverToken(focusCanvas, focus, 6);
  assert.equal(root.dataset.hoverCell, "6");
  assert.equal(root.dataset.query, "6");
  const centre = (layout, t) => { const r = layout.cellRect(t); return [r.x + r.w / 2, r.y + r.h / 2]; };
  assert.deepEqual(pixel(heads[0], ...centre(small, 7)).slice(0, 3), [255, 255, 255]);
  assert.ok(pixel(heads[0], ...centre(small, 9))[0] < 20, "other patches dark");
  // head 1 sends most attention to CLS: its prefix cell is at the top of the scale
  assert.deepEqual(pixel(heads[1], ...centre(small, 0)).slice(0, 3), [255, 255, 255]);
  // the focused (large) view shows head 0
  assert.deepEqual(pixel(focusCanvas, ...centre(focus, 7)).slice(0, 3), [255, 255, 255]);
  assert.match(el.querySelector(".vw-readout").textContent, /patch \(row 1, col 2\) \(100\.0%\)/);

  // moving to another patch changes the map
  hoverToken(focusCanvas, focus, 1);
  assert.deepEqual(pixel(heads[0], ...centre(small, 2)).slice(0, 3), [255, 255, 255]);
  assert.ok(pixel(heads[0], ...centre(small, 7))[0] < 20);

  // click pins the hovered query in the model; Escape unpins
  focusCanvas.dispatchEvent(new window.MouseEvent("click", { bubbles: true }));
  assert.equal(model.get("query"), 1);
  root.dispatchEvent(new window.KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
  assert.equal(model.get("query"), -1);

  // clicking a small multiple focuses that head
  el.querySelectorAll(".vw-head-cell")[1].dispatchEvent(new window.MouseEvent("click", { bubbles: true }));
  assert.equal(model.get("head"), 1);
  assert.equal(root.dataset.head, "1");

  // arrow keys change the layer; the kernel is asked for it (or it was prefetched)
  root.dispatchEvent(new window.KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
  assert.equal(model.get("layer"), 1);
  await until(() => root.dataset.ready === "true" && root.dataset.layer === "1", "layer 1 painted");
  // layer 2 replies with an error, which the widget shows
  root.dispatchEvent(new window.KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
  await until(() => root.dataset.error !== "", "error shown");
  assert.match(el.querySelector(".vw-status").textContent, /layer 2 is broken on purpose/);
  assert.ok(el.querySelector(".vw-status button.vw-retry"));
  root.dispatchEvent(new window.KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
  await until(() => root.dataset.error === "" && root.dataset.ready === "true", "back to layer 1");
  cleanup();
});

test("column mode reads the hovered key's column; modes are buttons", async () => {
  const { model, el, root, cleanup } = await mountPainted();
  el.querySelector('.vw-modes button[data-mode="column"]').click();
  assert.equal(model.get("mode"), "column");
  await tick(5);
  const focus = gridLayout({ gh: GH, gw: GW, numPrefix: P, cell: fitCell(GW, P, GH, 380) });
  const focusCanvas = el.querySelector("canvas.vw-focus");
  // key (0, 2) = token 3 is looked at (head 0) by the query on its left, (0, 1) = token 2
  hoverToken(focusCanvas, focus, 3);
  const r = focus.cellRect(2);
  assert.deepEqual(pixel(focusCanvas, r.x + r.w / 2, r.y + r.h / 2).slice(0, 3), [255, 255, 255]);
  const r2 = focus.cellRect(3);
  assert.ok(pixel(focusCanvas, r2.x + r2.w / 2, r2.y + r2.h / 2)[0] < 20);
  assert.equal(root.dataset.mode, "column");
  cleanup();
});

test("a request the kernel never answers times out with a message", async () => {
  const model = makeModel();
  model.state.request_timeout_ms = 50;
  model.onSend = () => {}; // a dead kernel
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = explorer.render({ model, el });
  const root = el.querySelector(".vw-explorer");
  await until(() => root.dataset.error !== "" && root.dataset.error !== undefined, "timeout shown", 3000);
  assert.match(root.dataset.error, /no reply from the kernel/);
  cleanup();
});

test("aligned and rollout modes ask for their part and read it; no cancel message is ever sent", async () => {
  const { model, el, root, cleanup } = await mountPainted();
  const focusCanvas = el.querySelector("canvas.vw-focus");
  el.querySelector('.vw-modes button[data-mode="aligned"]').click();
  assert.equal(root.dataset.loading, "true");
  await until(() => root.dataset.ready === "true" && root.dataset.mode === "aligned", "aligned painted");
  const requests = model.sent.filter((m) => m.kind === "request");
  assert.deepEqual(requests.at(-1).params, { image: 0, layer: 0, mode: "aligned", include: ["aligned"] });
  assert.equal(el.querySelector(".vw-focus-title").textContent, "layer 0 · head 0 · aligned average");
  const cell = Math.floor(focusCanvas.width / AW);
  const at = (c) => [(c % AW + 0.5) * cell, (Math.floor(c / AW) + 0.5) * cell];
  assert.deepEqual(pixel(focusCanvas, ...at(CENTRE + 1)).slice(0, 3), [255, 255, 255], "head 0: one patch right");
  focusCanvas.dispatchEvent(new window.MouseEvent("mousemove", { clientX: at(CENTRE + 1)[0], clientY: at(CENTRE + 1)[1], bubbles: true }));
  assert.equal(root.dataset.hoverCell, String(CENTRE + 1));
  assert.equal(el.querySelector(".vw-readout").textContent, "offset (dy 0, dx 1) patches from the query: 100.0% of head 0's attention on average");
  focusCanvas.dispatchEvent(new window.MouseEvent("click", { bubbles: true }));
  assert.equal(model.get("query"), -1, "no pinning in aligned mode");

  el.querySelector('.vw-modes button[data-mode="rollout"]').click();
  el.querySelector('.vw-modes button[data-mode="row"]').click(); // moves away before the rollout arrives
  el.querySelector('.vw-modes button[data-mode="rollout"]').click();
  await until(() => root.dataset.ready === "true" && root.dataset.mode === "rollout", "rollout painted");
  assert.equal(el.querySelector(".vw-focus-title").textContent, "rollout of blocks 0–0 (mean of heads)");
  assert.deepEqual(model.sent.filter((m) => m.kind === "request").at(-1).params, { image: 0, layer: 0, mode: "rollout", include: ["rollout"] });
  assert.deepEqual([...new Set(model.sent.map((m) => m.kind))], ["request"]);
  cleanup();
});

test("mode buttons and colour maps are built from _modes and _colormaps and follow their changes", async () => {
  const { model, el, cleanup } = await mountPainted();
  const modes = () => [...el.querySelectorAll(".vw-modes button")].map((b) => [b.dataset.mode, b.textContent, b.getAttribute("aria-pressed")]);
  assert.deepEqual(modes(), MODES.map((m) => [m.id, m.label, String(m.id === "row")]));
  assert.deepEqual([...el.querySelectorAll("select.vw-colormap option")].map((o) => o.value), COLORMAPS);
  assert.equal(el.querySelector("select.vw-colormap").value, "gray");
  model.set("_modes", [MODES[1], { ...MODES[0], label: "rows" }]);
  assert.deepEqual(modes(), [["column", MODES[1].label, "false"], ["row", "rows", "true"]]);
  assert.equal(el.querySelector(".vw-focus-title").textContent, "layer 0 · head 0 · rows");
  model.set("_colormaps", ["gray", "magma"]);
  assert.deepEqual([...el.querySelectorAll("select.vw-colormap option")].map((o) => o.textContent), ["gray", "magma"]);
  assert.equal(el.querySelector("select.vw-colormap").value, "gray");
  cleanup();
});
