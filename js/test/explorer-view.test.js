import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel, MODES, COLORMAPS } from "./helpers.js";
import {
  buildView, bindControls, renderModeButtons, renderColormapOptions, renderChoices, syncControls, setStatus, loaderHooks,
  buildHeadCells, buildStructure, createStrip, renderStrip, markStrip, revokeUrls, renderScaleOptions, showLegend,
} from "../src/explorer/view.js";

before(() => {
  installDom();
  let n = 0;
  globalThis.URL.createObjectURL = () => `blob:${++n}`;
  globalThis.URL.revokeObjectURL = () => {};
});

const mount = () => buildView(document.body.appendChild(document.createElement("div")));
const state = (o = {}) => new FakeModel({
  num_layers: 4, layer: 1, head: 2, mode: "column", prefix_names: [], colormap: "magma", opacity: 0.5, log_scale: true,
  image_index: 0, query: 3, grid: [2, 3], num_heads: 3, _modes: MODES, _colormaps: COLORMAPS, _thumbnails: [], _image_format: "image/png", ...o,
});

test("the DOM contract: class names of every part", () => {
  const v = mount();
  for (const sel of [".vw-explorer", ".vw-toolbar", "input.vw-layer-slider", ".vw-layer-value", ".vw-modes", "select.vw-colormap",
    "input.vw-opacity", "input.vw-log", "canvas.vw-legend", ".vw-strip", ".vw-focus-title", "canvas.vw-focus", ".vw-readout", ".vw-heads", ".vw-status"]) {
    assert.ok(v.root.matches(sel) || v.root.querySelector(sel), sel);
  }
  assert.equal(v.root.tabIndex, 0);
  assert.equal(v.root.dataset.lmSuppressShortcuts, "true");
});

test("mode buttons and colour maps come from the traits, in their order", () => {
  const v = mount();
  const picked = [];
  renderModeButtons(v.modeBar, MODES, (id) => picked.push(id));
  assert.deepEqual([...v.modeBar.children].map((b) => [b.dataset.mode, b.textContent, b.title]), MODES.map((m) => [m.id, m.label, m.title]));
  v.modeBar.querySelector('[data-mode="aligned"]').click();
  assert.deepEqual(picked, ["aligned"]);
  renderModeButtons(v.modeBar, [{ id: "row", label: "<b>rows</b>", title: "" }], () => {});
  assert.equal(v.modeBar.children.length, 1);
  assert.equal(v.modeBar.querySelector("b"), null, "labels are text");
  renderColormapOptions(v.cmapSelect, ["gray", "viridis"]);
  assert.deepEqual([...v.cmapSelect.options].map((o) => o.value), ["gray", "viridis"]);
  const model = state({ _colormaps: ["inferno"] });
  renderChoices(v, model);
  assert.equal(v.modeBar.children.length, 5);
  assert.deepEqual([...v.cmapSelect.options].map((o) => o.textContent), ["inferno"]);
  v.modeBar.querySelector('[data-mode="rollout"]').click();
  assert.equal(model.get("mode"), "rollout");
});

test("controls and root attributes mirror the traits; cls needs a prefix token", () => {
  const v = mount();
  const model = state();
  renderChoices(v, model);
  syncControls(v, model);
  assert.equal(v.layerValue.textContent, "1 / 3");
  assert.deepEqual([v.layerSlider.max, v.layerSlider.value, v.cmapSelect.value, v.opacitySlider.value, v.logBox.checked], ["3", "1", "magma", "0.5", true]);
  assert.deepEqual([...v.modeBar.children].map((b) => b.getAttribute("aria-pressed")), ["false", "true", "false", "false", "false"]);
  assert.equal(v.modeBar.querySelector('[data-mode="cls"]').disabled, true);
  const { layer, head, mode, image, pinned, colormap, logScale } = v.root.dataset;
  assert.deepEqual({ layer, head, mode, image, pinned, colormap, logScale },
    { layer: "1", head: "2", mode: "column", image: "0", pinned: "true", colormap: "magma", logScale: "true" });
  model.set("prefix_names", ["cls"]);
  syncControls(v, model);
  assert.equal(v.modeBar.querySelector('[data-mode="cls"]').disabled, false);
  bindControls(v, model);
  v.layerSlider.value = "3";
  v.layerSlider.dispatchEvent(new window.Event("input"));
  v.logBox.checked = false;
  v.logBox.dispatchEvent(new window.Event("change"));
  v.cmapSelect.value = "gray";
  v.cmapSelect.dispatchEvent(new window.Event("change"));
  v.opacitySlider.value = "0.25";
  v.opacitySlider.dispatchEvent(new window.Event("input"));
  assert.deepEqual([model.get("layer"), model.get("log_scale"), model.get("colormap"), model.get("opacity")], [3, false, "gray", 0.25]);
});

test("status line: info, error with retry, cleared; the loader's hooks use it", () => {
  const v = mount();
  let retried = 0;
  setStatus(v, "error", "<b>boom</b>", () => { retried += 1; });
  assert.equal(v.status.dataset.kind, "error");
  assert.equal(v.root.dataset.error, "<b>boom</b>");
  assert.equal(v.status.querySelector(".vw-status-text").textContent, "<b>boom</b>");
  v.status.querySelector("button.vw-retry").click();
  assert.equal(retried, 1);
  setStatus(v, null);
  assert.deepEqual([v.status.textContent, v.root.dataset.error, v.status.dataset.kind], ["", "", ""]);
  let ready = 0;
  let loading = 0;
  const hooks = loaderHooks(v, { ready: () => { ready += 1; }, retry: () => { retried += 1; }, loading: () => { loading += 1; } });
  hooks.onLoading({ layer: 4, mode: "rollout" });
  assert.equal(loading, 1, "paints what is at hand while loading");
  assert.deepEqual([v.root.dataset.ready, v.root.dataset.loading, v.status.textContent], ["false", "true", "loading layer 4 (rollout)…"]);
  hooks.onError(new Error("ValueError: nope"));
  assert.equal(v.root.dataset.loading, "false");
  assert.equal(v.root.dataset.error, "ValueError: nope");
  v.status.querySelector("button.vw-retry").click();
  assert.equal(retried, 2);
  assert.equal(v.root.dataset.error, "", "retry clears the error");
  hooks.onLoading({ layer: 4, mode: "rollout" });
  hooks.onReady();
  assert.equal(ready, 1);
  assert.equal(v.root.dataset.loading, "false", "ready ends the loading");
});

test("head cells and the structure of a model shape", () => {
  const v = mount();
  const focused = [];
  const heads = buildHeadCells(v.headsGrid, 5, (hd) => focused.push(hd));
  assert.equal(v.headsGrid.style.gridTemplateColumns, "repeat(3, auto)");
  assert.deepEqual(heads.map((c) => [c.canvas.className, c.canvas.dataset.head, c.cell.className, c.cell.dataset.head, c.label.className]).at(-1),
    ["vw-head", "4", "vw-head-cell", "4", "vw-head-label"]);
  heads[3].cell.click();
  assert.deepEqual(focused, [3]);
  const s = buildStructure(v, state(), () => {});
  assert.equal(s.heads.length, 3);
  assert.equal(v.headsGrid.children.length, 3, "rebuilt, not appended");
  assert.deepEqual([s.baseFocus.width, s.baseFocus.height], [s.focus.width, s.focus.height]);
  assert.equal(s.N, 6);
});

test("the strip shows several thumbnails, marks the current one and picks images", () => {
  const v = mount();
  const thumb = new DataView(new ArrayBuffer(4));
  const picked = [];
  const urls = renderStrip(v.strip, [thumb, thumb, thumb], "image/png", (i) => picked.push(i));
  assert.equal(urls.length, 3);
  assert.equal(v.strip.style.display, "flex");
  markStrip(v.strip, 1);
  assert.deepEqual([...v.strip.children].map((i) => [i.dataset.image, i.dataset.selected]), [["0", "false"], ["1", "true"], ["2", "false"]]);
  v.strip.children[2].click();
  assert.deepEqual(picked, [2]);
  revokeUrls(urls);
  assert.equal(renderStrip(v.strip, [thumb], "image/png", () => {}).length, 1);
  assert.equal(v.strip.style.display, "none", "one image: no strip");
  const model = state({ _thumbnails: [thumb, thumb], image_index: 1 });
  const strip = createStrip(v, model);
  strip.render();
  assert.equal(v.strip.children[1].dataset.selected, "true");
  v.strip.children[0].click();
  assert.equal(model.get("image_index"), 0);
  strip.mark();
  assert.equal(v.strip.children[0].dataset.selected, "true");
  strip.dispose();
});

const SCALES = [
  { id: "map", label: "per map", title: "each map to its own top" },
  { id: "layer", label: "per layer", title: "one top per layer" },
  { id: "absolute", label: "absolute", title: "100 %" },
];

test("scale, dim and grid controls mirror their traits and write them; the colour bar shows its words", () => {
  const v = mount();
  for (const sel of ["select.vw-scale", "input.vw-dim", "input.vw-grid-lines", "input.vw-contour", ".vw-colorbar .vw-legend-low", ".vw-colorbar canvas.vw-legend",
    ".vw-colorbar .vw-legend-high", ".vw-heads-caption", ".vw-focus-caption"]) {
    assert.ok(v.root.querySelector(sel), sel);
  }
  const model = state({ _scales: SCALES, scale: "layer", dim: 0.4, grid_lines: true });
  renderChoices(v, model);
  assert.deepEqual([...v.scaleSelect.options].map((o) => [o.value, o.textContent, o.title]), SCALES.map((x) => [x.id, x.label, x.title]));
  syncControls(v, model);
  assert.deepEqual([v.scaleSelect.value, v.dimSlider.value, v.gridBox.checked], ["layer", "0.4", true]);
  assert.deepEqual([v.root.dataset.scale, v.root.dataset.gridLines], ["layer", "true"]);
  bindControls(v, model);
  v.scaleSelect.value = "absolute";
  v.scaleSelect.dispatchEvent(new window.Event("change"));
  v.dimSlider.value = "0.6";
  v.dimSlider.dispatchEvent(new window.Event("input"));
  v.gridBox.checked = false;
  v.gridBox.dispatchEvent(new window.Event("change"));
  assert.equal(v.contourBox.checked, false);
  v.contourBox.checked = true;
  v.contourBox.dispatchEvent(new window.Event("change"));
  assert.deepEqual([model.get("scale"), model.get("dim"), model.get("grid_lines"), model.get("contour")], ["absolute", 0.6, false, 0.5]);
  model.set("contour", 0.3);
  syncControls(v, model);
  assert.equal(v.contourBox.checked, true, "any level above 0 shows as checked");
  showLegend(v, { low: "0%", high: "<b>max</b> 8.6%", title: "Colour of head 2" }, 0.086);
  assert.deepEqual([v.legendLow.textContent, v.legendHigh.textContent, v.colorbar.title, v.root.dataset.scaleMax], ["0%", "<b>max</b> 8.6%", "Colour of head 2", "0.086"]);
  assert.equal(v.legendHigh.querySelector("b"), null, "text, not HTML");
  renderScaleOptions(v.scaleSelect, SCALES.slice(0, 1));
  assert.equal(v.scaleSelect.options.length, 1);
});
