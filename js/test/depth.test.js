// The DepthProfile in jsdom: a curve drawn through known points, the best block starred, a click
// on a depth setting `layer`, the hovered block and panel on the root.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, pixel, FakeModel } from "./helpers.js";
import widget from "../src/depth/index.js";
import { paintProfiles, xScaleOf } from "../src/depth/paint.js";
import { SERIES_COLOURS } from "../src/chart.js";

before(() => installDom());

const PROFILE = {
  name: "toy", num_layers: 4, sub_layers: true, depths: [-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3],
  high_frequency: [0, -1, -0.5, -1, -0.5, -1, -0.5, -1, -0.5], variance: [1, 2, 3, 4, 5, 6, 7, 8, 9],
  distance_px: [10, 20, 30, 40], nmi: [0.4, 0.3, 0.2, 0.1], similarity: [0.1, 0.2, 0.3, 0.4, 0.5],
  knn: [0.2, 0.9, 0.5, 0.4], knn_best: 1, probe: [0.3, 0.4, 0.8, 0.6], probe_best: 2,
};

function mount(extra = {}) {
  const model = new FakeModel({ names: ["toy"], _profiles: [PROFILE], depth_axis: "block", layer: 0, status: "", error: "", done: true, ...extra });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = widget.render({ model, el });
  const root = el.querySelector(".vw-depth");
  return { model, el, root, canvas: el.querySelector("canvas.vw-depth-canvas"), cleanup, frames: JSON.parse(root.dataset.frames) };
}

const click = (canvas, type, x, y) => canvas.dispatchEvent(new window.MouseEvent(type, { clientX: x, clientY: y, bubbles: true }));
/** Canvas x of block depth d in a frame, from the root's data-domain. */
const xOf = (root, frame, d) => xScaleOf(frame, root.dataset.domain.split(",").map(Number)).map(d);

test("every panel is shown with labels, the domain spans the embedding to the last block", () => {
  const { root, frames, cleanup } = mount();
  assert.equal(root.dataset.panels, "high_frequency,variance,distance_px,nmi,similarity,knn,probe");
  assert.equal(frames.length, 7);
  assert.equal(root.dataset.domain, "-1,3");
  assert.equal(root.dataset.ready, "true");
  cleanup();
});

test("clicking at a depth sets layer to the nearest block; hover names the panel and block", () => {
  const { model, root, canvas, frames, el, cleanup } = mount();
  const f = frames[2]; // attention distance
  click(canvas, "mousemove", xOf(root, f, 2.2), f.y + f.h / 2);
  assert.equal(root.dataset.hoverPanel, "distance_px");
  assert.equal(root.dataset.hoverLayer, "2");
  assert.equal(el.querySelector(".vw-readout").textContent, "mean attention distance (px): toy block 2 30.0");
  click(canvas, "click", xOf(root, f, 2.2), f.y + f.h / 2);
  assert.equal(model.get("layer"), 2);
  assert.equal(root.dataset.layer, "2");
  cleanup();
});

test("the best k-NN block carries a star in the model's colour; the relative axis moves it", () => {
  const { model, root, canvas, frames, cleanup } = mount();
  const f = frames[5];
  // the star sits on the curve's maximum (0.9), 6 % of the extent below the frame's top
  const top = f.y + f.h * 0.06 / 1.12;
  const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  assert.deepEqual(pixel(canvas, xOf(root, f, 1), top + 4).slice(0, 3), rgb(SERIES_COLOURS[0]), "inside the star, under its centre");
  const select = root.querySelector("select.vw-depth-axis");
  assert.equal(select.value, "block");
  select.value = "relative";
  select.dispatchEvent(new window.Event("change"));
  assert.equal(model.get("depth_axis"), "relative");
  assert.equal(root.dataset.domain, "0,1");
  assert.deepEqual(pixel(canvas, xOf(root, f, 0.5), top + 4).slice(0, 3), rgb(SERIES_COLOURS[0]));
  cleanup();
});

test("paintProfiles draws nothing for no profiles but the legend", () => {
  const c = document.createElement("canvas");
  c.width = 100;
  c.height = 30;
  paintProfiles(c.getContext("2d"), { frames: [] }, { profiles: [], names: [], panels: [], axis: "block", domain: [-1, 1], layer: 0 });
  assert.deepEqual(pixel(c, 90, 25), [0, 0, 0, 0]);
});
