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

// The same attention as scaled queries and keys (d = N): head 0's query i is 30 along the axis
// of its right neighbour, head 1's queries are ln 108 along CLS; keys are the axes. Softmax
// gives head 0 ~1 on the right neighbour, head 1 0.9 on CLS and 0.1 / 12 on each patch.
const D = N;
function layerQk() {
  const q = new Float32Array(H * N * D);
  const k = new Float32Array(H * N * D);
  const lse = new Float32Array(H * N);
  for (let i = 0; i < N; i++) {
    const row = i < P ? 0 : Math.floor((i - P) / GW);
    const col = i < P ? 0 : (i - P) % GW;
    q[(0 * N + i) * D + P + row * GW + ((col + 1) % GW)] = 30;
    q[(1 * N + i) * D + 0] = Math.log(108);
    for (let h = 0; h < H; h++) k[(h * N + i) * D + i] = 1;
    lse[0 * N + i] = 30 + Math.log(1 + (N - 1) * Math.exp(-30));
    lse[1 * N + i] = Math.log(108 + (N - P));
  }
  return { q, k, lse };
}

/** The fake kernel's `rows` values [T, H', N] of kind for tokens (rollout: head 0's rows). */
function kernelRows(kind, tokens) {
  const a = layerAttention();
  const heads = kind === "rollout" ? [0] : [0, 1];
  const out = [];
  for (const t of tokens) {
    for (const h of heads) {
      for (let j = 0; j < N; j++) out.push(kind === "column" ? a[(h * N + j) * N + t] : a[(h * N + t) * N + j]);
    }
  }
  return { shape: [tokens.length, heads.length, N], values: out };
}

function layerParts(include, form) {
  const parts = [];
  if (include.includes("attention") && form === "dense") parts.push({ name: "attention", shape: [H, N, N], values: layerAttention() });
  if (include.includes("attention") && form === "qk") {
    const { q, k, lse } = layerQk();
    parts.push({ name: "q", shape: [H, N, D], values: q }, { name: "k", shape: [H, N, D], values: k }, { name: "lse", shape: [H, N], values: lse });
  }
  if (include.includes("rollout") && form !== "kernel") parts.push({ name: "rollout", shape: [N, N], values: layerAttention().subarray(0, N * N) });
  if (include.includes("aligned")) parts.push({ name: "aligned", shape: [H, 2 * GH - 1, 2 * GW - 1], values: alignedMaps() });
  return parts;
}

/** The kernel's reply to one request: [content, buffers] (lse goes as float32). */
function kernelReply(msg, form) {
  const { layer, include, kind, tokens } = msg.params;
  if (layer === L - 1) return [{ kind: "reply", id: msg.id, ok: false, error: "ValueError: layer 2 is broken on purpose" }];
  if (msg.method === "rows") {
    const [content, buffers] = layerDataReply(msg.id, [{ name: "rows", ...kernelRows(kind, tokens) }]);
    Object.assign(content.result, { image: msg.params.image, layer, kind, tokens });
    return [content, buffers];
  }
  const parts = layerParts(include, form ?? "dense");
  const [content, buffers] = layerDataReply(msg.id, parts);
  parts.forEach((p, i) => {
    if (p.name !== "lse") return;
    content.result.arrays[i].dtype = "float32";
    buffers[i] = new DataView(Float32Array.from(p.values).buffer);
  });
  if (form !== undefined && include.includes("attention")) Object.assign(content.result, { attention_form: form, head_dim: D });
  if (form !== undefined && include.includes("rollout")) content.result.rollout_form = form === "kernel" ? "kernel" : "dense";
  return [content, buffers];
}

/**
 * A fake model over a fake kernel answering `layer_data` in `form` (undefined: an older kernel
 * that names no form, i.e. dense) after `layerDelay` ms and `rows` after 1 ms.
 */
function makeModel({ form, layerDelay = 1 } = {}) {
  const model = new FakeModel({
    model_name: "toy", num_layers: L, num_heads: H, grid: [GH, GW], patch_size: 16,
    prefix_names: ["cls"], num_images: 1, image_index: 0, layer: 0, head: 0, query: -1,
    mode: "row", colormap: "gray", opacity: 1, log_scale: false, head_tags: {},
    request_timeout_ms: 2000, _image: new DataView(new ArrayBuffer(0)), _image_format: "image/png", _thumbnails: [],
    _modes: MODES, _colormaps: COLORMAPS,
  });
  Object.assign(model, { rowsOpen: 0, maxRowsOpen: 0 });
  model.onSend = (msg) => {
    if (msg.kind !== "request") return;
    const rows = msg.method === "rows";
    if (rows) model.maxRowsOpen = Math.max(model.maxRowsOpen, ++model.rowsOpen);
    setTimeout(() => {
      if (rows) model.rowsOpen -= 1;
      model.emit("msg:custom", ...kernelReply(msg, form));
    }, rows ? 1 : layerDelay);
  };
  return model;
}

/** Render the explorer with a fresh fake model and wait for its first paint from the whole layer. */
async function mountPainted(model = makeModel()) {
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = explorer.render({ model, el });
  const root = el.querySelector(".vw-explorer");
  await until(() => root.dataset.ready === "true" && root.dataset.loading === "false", "first paint");
  return { model, el, root, cleanup };
}

function hoverToken(canvas, layout, token) {
  const r = layout.cellRect(token);
  canvas.dispatchEvent(new window.MouseEvent("mousemove", { clientX: r.x + r.w / 2, clientY: r.y + r.h / 2, bubbles: true }));
}

test("hover paints every head's row from the shipped layer; keys and errors round-trip", async () => {
  const { model, el, root, cleanup } = await mountPainted();
  const first = model.sent.find((m) => m.method === "layer_data");
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
  assert.equal(el.querySelector(".vw-focus-title").textContent, "rollout to layer 0 (blocks 0–0, mean of heads): query → keys");
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

const focusLayout = () => gridLayout({ gh: GH, gw: GW, numPrefix: P, cell: fitCell(GW, P, GH, 380) });
const smallLayout = () => gridLayout({ gh: GH, gw: GW, numPrefix: P, cell: fitCell(GW, P, GH, 150) });
const rgbAt = (canvas, layout, t) => { const r = layout.cellRect(t); return pixel(canvas, r.x + r.w / 2, r.y + r.h / 2).slice(0, 3); };
const methods = (model) => model.sent.filter((m) => m.kind === "request").map((m) => m.method);

test("a qk layer answers hover in the browser: rows and columns as from dense attention", async () => {
  const { model, el, root, cleanup } = await mountPainted(makeModel({ form: "qk" }));
  assert.equal(root.dataset.attentionForm, "qk");
  const focusCanvas = el.querySelector("canvas.vw-focus");
  const heads = el.querySelectorAll("canvas.vw-head");
  hoverToken(focusCanvas, focusLayout(), 6);
  assert.equal(root.dataset.query, "6", "painted at once, no kernel round trip");
  assert.deepEqual(rgbAt(heads[0], smallLayout(), 7), [255, 255, 255]);
  assert.ok(rgbAt(heads[0], smallLayout(), 9)[0] < 20);
  assert.deepEqual(rgbAt(heads[1], smallLayout(), 0), [255, 255, 255]);
  assert.match(el.querySelector(".vw-readout").textContent, /patch \(row 1, col 2\) \(100\.0%\)/);
  el.querySelector('.vw-modes button[data-mode="column"]').click();
  await until(() => root.dataset.mode === "column" && root.dataset.ready === "true", "column mode");
  hoverToken(focusCanvas, focusLayout(), 3);
  assert.deepEqual(rgbAt(focusCanvas, focusLayout(), 2), [255, 255, 255], "key 3 is looked at by query 2");
  assert.ok(rgbAt(focusCanvas, focusLayout(), 3)[0] < 20);
  assert.deepEqual(methods(model).filter((m) => m === "rows").length, 1, "only the first paint's rows");
  cleanup();
});

test("a kernel-form layer asks the kernel on hover; a pointer storm keeps one request in flight", async () => {
  const { model, el, root, cleanup } = await mountPainted(makeModel({ form: "kernel" }));
  assert.equal(root.dataset.attentionForm, "kernel");
  const focusCanvas = el.querySelector("canvas.vw-focus");
  const heads = el.querySelectorAll("canvas.vw-head");
  hoverToken(focusCanvas, focusLayout(), 6);
  await until(() => root.dataset.query === "6", "rows of query 6 painted");
  assert.deepEqual(rgbAt(heads[0], smallLayout(), 7), [255, 255, 255]);
  assert.deepEqual(rgbAt(heads[1], smallLayout(), 0), [255, 255, 255]);
  for (let round = 0; round < 3; round++) {
    for (let t = 1; t < N; t++) {
      hoverToken(focusCanvas, focusLayout(), t);
      assert.ok(Number(root.dataset.rowsInFlight) <= 1);
    }
  }
  await until(() => root.dataset.query === String(N - 1), "the last hovered query painted");
  assert.equal(model.maxRowsOpen, 1, "never two rows requests at once");
  assert.ok(Number(root.dataset.kernelRows) >= 3);
  const rowsSent = model.sent.filter((m) => m.method === "rows").length;
  assert.ok(rowsSent < 3 * (N - 1), `${rowsSent} rows requests for ${3 * (N - 1)} pointer moves`);
  // rollout over a kernel layer: the heads' rows and the rollout row both come from `rows`
  el.querySelector('.vw-modes button[data-mode="rollout"]').click();
  await until(() => root.dataset.mode === "rollout" && root.dataset.ready === "true" && root.dataset.loading === "false", "rollout painted");
  assert.ok(model.sent.some((m) => m.method === "rows" && m.params.kind === "rollout"));
  assert.equal(model.sent.filter((m) => m.method === "layer_data").every((m) => m.params.layer === 0), true, "no neighbour prefetch");
  cleanup();
});

test("before a big layer arrives the shown query's rows are asked for first and painted", async () => {
  const model = makeModel({ layerDelay: 150 });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = explorer.render({ model, el });
  const root = el.querySelector(".vw-explorer");
  assert.deepEqual(methods(model), ["rows", "layer_data"]);
  assert.deepEqual(model.sent[0].params, { image: 0, layer: 0, kind: "row", tokens: [0] });
  await until(() => root.dataset.ready === "true", "painted from the rows");
  assert.equal(root.dataset.loading, "true", "the layer is still on the way");
  assert.equal(root.dataset.kernelRows, "1");
  assert.deepEqual(rgbAt(el.querySelectorAll("canvas.vw-head")[1], smallLayout(), 0), [255, 255, 255], "CLS's row, head 1");
  await until(() => root.dataset.loading === "false", "the layer arrived");
  assert.equal(root.dataset.attentionForm, "dense");
  cleanup();
});

test("after a kernel restart the status line says so at once, offers no retry, and a new selection fails at once", async () => {
  const { model, el, root, cleanup } = await mountPainted();
  model.emit("comm_live_update"); // ipywidgets' manager: the kernel is restarting
  assert.equal(root.dataset.disconnected, "true");
  assert.match(root.dataset.error, /^the kernel restarted: re-run this cell/);
  assert.equal(el.querySelector("button.vw-retry"), null, "retrying cannot help");
  const sentBefore = model.sent.length;
  const t0 = Date.now();
  el.querySelector('.vw-modes button[data-mode="aligned"]').click(); // not cached: needs the kernel
  await until(() => root.dataset.loading === "false", "the request settled", 1000);
  assert.ok(Date.now() - t0 < 500, "no waiting for the 2 s timeout");
  assert.match(el.querySelector(".vw-status").textContent, /the kernel restarted: re-run this cell/);
  assert.equal(model.sent.length, sentBefore, "nothing sent to the dead comm");
  el.querySelector('.vw-modes button[data-mode="row"]').click(); // cached: painted, the message stays
  assert.match(root.dataset.error, /the kernel restarted/);
  cleanup();
});

test("a send that throws (Cannot send) reaches the status line instead of loading forever", async () => {
  const { model, el, root, cleanup } = await mountPainted();
  model.send = () => { throw new Error("Cannot send"); };
  el.querySelector('.vw-modes button[data-mode="aligned"]').click();
  await until(() => root.dataset.loading === "false", "the request settled", 1000);
  assert.match(root.dataset.error, /cannot reach the kernel \(it restarted or shut down\): re-run this cell/);
  cleanup();
});

test("a kernel-form layer's hover after a restart shows the restart message, not a retry", async () => {
  const { model, el, root, cleanup } = await mountPainted(makeModel({ form: "kernel" }));
  model.emit("comm_live_update");
  root.dataset.error = ""; // as if something had cleared it: the hover must bring it back
  hoverToken(el.querySelector("canvas.vw-focus"), focusLayout(), 6);
  await until(() => root.dataset.error !== "", "error shown", 1000);
  assert.match(root.dataset.error, /the kernel restarted/);
  assert.equal(el.querySelector("button.vw-retry"), null);
  cleanup();
});

/** PNG bytes of a jsdom canvas (jsdom has no toBlob): its pixels encoded by @napi-rs/canvas. */
async function installToBlob() {
  const { createCanvas } = await import("@napi-rs/canvas");
  const { Blob: NodeBlob } = await import("node:buffer");
  window.HTMLCanvasElement.prototype.toBlob = function toBlob(cb, type) {
    const img = this.getContext("2d").getImageData(0, 0, this.width, this.height);
    const c = createCanvas(this.width, this.height);
    c.getContext("2d").putImageData(img, 0, 0);
    cb(new NodeBlob([c.toBuffer("image/png")], { type }));
  };
}

test("the kernel's export_png request is answered with a PNG of the composite as a buffer", async () => {
  await installToBlob();
  const { model, el, cleanup } = await mountPainted();
  const replies = [];
  model.send = (msg, _cb, buffers) => replies.push([msg, buffers]);
  model.emit("msg:custom", { kind: "request", id: "kernel-7", method: "export_png", params: { scale: 1 } }, []);
  await until(() => replies.length === 1, "export reply");
  const [msg, buffers] = replies[0];
  assert.equal(msg.kind, "reply");
  assert.equal(msg.id, "kernel-7");
  assert.equal(msg.ok, true, msg.error);
  const png = buffers[0];
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
  const ihdr = new DataView(png.buffer, png.byteOffset + 16, 8);
  assert.deepEqual([ihdr.getUint32(0), ihdr.getUint32(4)], [msg.result.width, msg.result.height]);
  const focus = el.querySelector("canvas.vw-focus");
  assert.ok(msg.result.width > focus.width + 150 && msg.result.height > focus.height, "the focus map and the heads beside it");
  assert.equal(msg.result.name, "vitwidgets-toy-image0-layer0-head0-row.png");
  cleanup();
});

test("the export button downloads the PNG under a name that says what it shows", async () => {
  await installToBlob();
  const { el, cleanup } = await mountPainted();
  const clicked = [];
  const origClick = window.HTMLAnchorElement.prototype.click;
  window.HTMLAnchorElement.prototype.click = function click() { clicked.push(this.download); };
  const origUrl = URL.createObjectURL;
  URL.createObjectURL = () => "blob:fake";
  try {
    el.querySelector("button.vw-export").click();
    await until(() => clicked.length === 1, "download clicked");
    assert.deepEqual(clicked, ["vitwidgets-toy-image0-layer0-head0-row.png"]);
  } finally {
    window.HTMLAnchorElement.prototype.click = origClick;
    URL.createObjectURL = origUrl;
  }
  cleanup();
});
