// The FeatureExplorer's render() in jsdom with real canvas pixels, against a fake kernel.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel, COLORMAPS, unalignedFloat16, pixel, until, tick } from "./helpers.js";

let features;
before(async () => {
  installDom();
  features = (await import("../src/features/index.js")).default;
});

// two images of a 2 x 2 grid, one CLS token, 2-dim features at angles (degrees) per patch
const ANGLES = [[0, 90, 180, 270], [75, 10, 200, 95]];
const coordsOf = () => ANGLES.flat().flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]);

function layerReply(id) {
  const parts = [["coords", [2, 4, 2], coordsOf()], ["pca", [2, 4, 3], new Array(24).fill(0.5)],
    ["foreground", [2, 4], [1, -1, -1, -1, -1, 1, -1, -1]], ["clusters", [2, 4], [0, 1, 1, 1, 1, 0, 1, 1]]];
  const result = { layer: 1, facet: "tokens", k: 2, dims: 2, full_dims: 2, cosine_error: 0.001, foreground_rule: "foreground: PC1 > 0", border_foreground: 0.25,
    arrays: parts.map(([name, shape]) => ({ name, shape, dtype: "float16" })) };
  return [{ kind: "reply", id, ok: true, result }, parts.map(([, , v]) => unalignedFloat16(v))];
}

function setup({ failLayer = false } = {}) {
  const model = new FakeModel({
    model_name: "toy", num_layers: 2, num_images: 2, grid: [2, 2], patch_size: 8, num_prefix: 1, pck: [0.25, 0.75], pck_alpha: 0.1,
    image_index: 0, layer: 1, query: -1, facet: "tokens", k: 2, panel: "pca", colormap: "viridis", request_timeout_ms: 5000,
    _facets: [{ id: "tokens", label: "tokens", title: "" }, { id: "keys", label: "keys", title: "" }],
    _panels: [{ id: "pca", label: "PCA", title: "" }, { id: "foreground", label: "foreground", title: "" }],
    _colormaps: COLORMAPS, _images: [], _data_version: 0,
  });
  model.requests = [];
  model.onSend = (msg) => {
    model.requests.push(msg);
    queueMicrotask(() => {
      if (msg.method === "layer_data") {
        if (failLayer) return model.emit("msg:custom", { kind: "reply", id: msg.id, ok: false, error: "ValueError: no such layer" }, []);
        const [content, buffers] = layerReply(msg.id);
        return model.emit("msg:custom", content, buffers);
      }
      // matches of image 0 patch 1 (90 deg): image 1's best is patch 3 (95 deg), mutual
      model.emit("msg:custom", { kind: "reply", id: msg.id, ok: true, result: { ...msg.params, best: [1, 3], similarity: [1, 0.9962], mutual: [true, true] } }, []);
    });
  };
  const el = document.createElement("div");
  document.body.appendChild(el);
  features.render({ model, el });
  return { model, root: el.querySelector(".vw-features") };
}

const cellOf = (root, j) => root.querySelector(`.vw-fx-cell[data-image="${j}"]`);
const mapOf = (root, j) => cellOf(root, j).querySelector("canvas.vw-fx-map");
const move = (canvas, x, y) => canvas.dispatchEvent(new window.MouseEvent("mousemove", { clientX: x, clientY: y, bubbles: true }));

test("it asks for the layer once and paints when the data is in", async () => {
  const { model, root } = setup();
  await until(() => root.dataset.ready === "true", "the layer's data");
  assert.deepEqual(model.requests.filter((m) => m.method === "layer_data").map((m) => m.params), [{ layer: 1, facet: "tokens", k: 2 }]);
  assert.equal(root.dataset.dims, "2");
  assert.match(root.querySelector(".vw-rule").textContent, /foreground: PC1 > 0/);
  assert.equal(root.querySelectorAll("canvas.vw-fx-map").length, 2);
});

test("hovering a patch marks the brightest patch of every image, computed here", async () => {
  const { model, root } = setup();
  await until(() => root.dataset.ready === "true", "the layer's data");
  const cell = Number(mapOf(root, 0).width) / 2;
  move(mapOf(root, 0), cell * 1.5, cell * 0.5); // image 0, patch 1 (90 deg)
  assert.equal(root.dataset.hoverPatch, "1");
  assert.equal(cellOf(root, 1).dataset.brightest, "3"); // 95 deg is nearest to 90
  assert.equal(Number(cellOf(root, 1).dataset.maxCos).toFixed(3), Math.cos(Math.PI / 36).toFixed(3));
  assert.equal(cellOf(root, 0).dataset.brightest, "1");
  assert.equal(model.requests.filter((m) => m.method === "matches").length, 0); // hover never asks the kernel
});

test("a click sets image and query and shows the kernel's mutual match", async () => {
  const { model, root } = setup();
  await until(() => root.dataset.ready === "true", "the layer's data");
  const cell = Number(mapOf(root, 0).width) / 2;
  mapOf(root, 0).dispatchEvent(new window.MouseEvent("click", { clientX: cell * 1.5, clientY: cell * 0.5, bubbles: true }));
  assert.equal(model.get("query"), 2); // CLS + patch 1
  assert.equal(model.get("image_index"), 0);
  await until(() => root.dataset.matches === "0:1", "the matches");
  assert.deepEqual(model.requests.find((m) => m.method === "matches").params, { image: 0, patch: 1, layer: 1, facet: "tokens" });
  assert.equal(cellOf(root, 1).dataset.match, "3");
  assert.equal(cellOf(root, 1).dataset.mutual, "true");
  assert.match(cellOf(root, 1).querySelector(".vw-fx-label").textContent, /1\.00 mutual ↔/);
  // the match (patch 3: bottom right) is outlined in the mutual colour, the query in orange
  const side = mapOf(root, 1).width;
  assert.deepEqual(pixel(mapOf(root, 1), side - 1, side - 1).slice(0, 3), [0x35, 0xd0, 0x7f]);
  assert.deepEqual(pixel(mapOf(root, 0), side - 1, 1).slice(0, 3), [0xf0, 0xa0, 0x20]);
});

test("the kernel's error shows in the status line", async () => {
  const { root } = setup({ failLayer: true });
  await until(() => root.querySelector(".vw-status").dataset.kind === "error", "the error");
  assert.match(root.querySelector(".vw-status").textContent, /no such layer/);
  assert.match(root.dataset.error, /no such layer/);
});

test("the layer slider and the PCK plot set the layer; k asks for new clusters", async () => {
  const { model, root } = setup();
  await until(() => root.dataset.ready === "true", "the layer's data");
  const slider = root.querySelector("input.vw-layer-slider");
  slider.value = "0";
  slider.dispatchEvent(new window.Event("input"));
  assert.equal(model.get("layer"), 0);
  const pck = root.querySelector("canvas.vw-pck");
  pck.dispatchEvent(new window.MouseEvent("click", { clientX: pck.width - 12, clientY: 40 }));
  assert.equal(model.get("layer"), 1);
  const k = root.querySelector("input.vw-k");
  k.value = "4";
  k.dispatchEvent(new window.Event("change"));
  assert.equal(model.get("k"), 4);
  await tick(5);
  assert.deepEqual(model.requests.filter((m) => m.method === "layer_data").at(-1).params, { layer: 1, facet: "tokens", k: 4 });
});

test("a click shows the clicked patch's matches even where the last hover was elsewhere", async () => {
  const { model, root } = setup();
  await until(() => root.dataset.ready === "true", "the layer's data");
  const cell = Number(mapOf(root, 0).width) / 2;
  mapOf(root, 0).dispatchEvent(new window.MouseEvent("click", { clientX: cell * 1.5, clientY: cell * 0.5, bubbles: true }));
  await until(() => root.dataset.matches === "0:1", "the first click's matches");
  move(mapOf(root, 0), cell * 0.5, cell * 0.5);
  mapOf(root, 1).dispatchEvent(new window.MouseEvent("click", { clientX: cell * 0.5, clientY: cell * 1.5, bubbles: true }));
  assert.deepEqual([model.get("image_index"), model.get("query")], [1, 3]);
  await until(() => root.dataset.matches === "1:2", "the clicked patch's matches");
  assert.equal(root.dataset.hoverImage, "1");
  // one request for the click (image and query change together), not one per trait
  assert.deepEqual(model.requests.filter((m) => m.method === "matches").map((m) => [m.params.image, m.params.patch]), [[0, 1], [1, 2]]);
});

test("a widget that outlived its kernel says so in the status line", async () => {
  const { model, root } = setup();
  await until(() => root.dataset.ready === "true", "the layer's data");
  model.emit("comm_live_update");
  const status = root.querySelector(".vw-status");
  assert.equal(status.dataset.kind, "error");
  assert.match(status.textContent, /the kernel restarted: re-run this cell/);
  assert.equal(root.dataset.disconnected, "true");
});
