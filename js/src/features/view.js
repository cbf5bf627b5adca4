// The FeatureExplorer's DOM: the toolbar (layer slider, facet, k, panel, colour map, PNG), the
// rule line, one cell per image (the image with its similarity map, the panel under it, a
// label), the PCK plot and the status line. Class names and data-* attributes here are the
// contract of the real-browser tests (vitwidgets/widgets/TESTING.md). Text goes in with
// textContent; colours follow the page (JupyterLab's --jp-* variables, else the host's own).

import { h, ensureStyle, setOptions } from "../dom.js";
import { setTrait } from "../model.js";

const CSS = `
.vw-features { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, currentColor); }
.vw-features .vw-toolbar { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; margin-bottom: 4px; }
.vw-features .vw-toolbar label { display: inline-flex; gap: 4px; align-items: center; }
.vw-features select, .vw-features input[type=number] { background: var(--jp-layout-color1, transparent); color: inherit; border: 1px solid #999; font: inherit; }
.vw-features .vw-panels button, .vw-features .vw-export { border: 1px solid #999; background: var(--jp-layout-color1, transparent); color: inherit; padding: 1px 7px; cursor: pointer; font: inherit; }
.vw-features .vw-panels button { margin-left: -1px; }
.vw-features .vw-panels button[aria-pressed="true"] { background: #3465a4; color: #fff; border-color: #3465a4; }
.vw-features .vw-rule, .vw-features .vw-readout { font-size: 11px; color: var(--jp-ui-font-color2, currentColor); opacity: 0.9; }
.vw-features .vw-readout { min-height: 1.4em; font-variant-numeric: tabular-nums; }
.vw-features .vw-fx-body { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.vw-features .vw-fx-images { display: flex; flex-wrap: wrap; gap: 8px; }
.vw-features .vw-fx-cell { display: flex; flex-direction: column; align-items: flex-start; gap: 3px; padding: 2px; border: 2px solid transparent; border-radius: 3px; }
.vw-features .vw-fx-cell[data-selected="true"] { border-color: #f0a020; }
.vw-features .vw-fx-label { font-size: 11px; font-variant-numeric: tabular-nums; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.vw-features canvas { display: block; image-rendering: pixelated; }
.vw-features canvas.vw-fx-map { cursor: crosshair; }
.vw-features canvas.vw-pck { cursor: pointer; }
.vw-features .vw-status { min-height: 1.4em; margin-top: 4px; }
.vw-features .vw-status[data-kind="error"] { color: var(--jp-error-color1, #d03040); }
`;

/**
 * Build the explorer's elements inside el.
 * @returns {object} root, layerSlider, layerValue, facetSelect, kInput, panelBar, cmapSelect,
 *   exportButton, rule, readout, images, pckCanvas, status
 */
export function buildView(el) {
  ensureStyle("vitwidgets-features-style", CSS, el);
  const v = {
    root: h("div", { className: "vw-features", tabIndex: 0 }),
    layerSlider: h("input", { type: "range", className: "vw-layer-slider", min: 0, step: 1 }),
    layerValue: h("span", { className: "vw-layer-value" }),
    facetSelect: h("select", { className: "vw-facet", title: "Which vectors of the block describe a patch" }),
    kInput: h("input", { type: "number", className: "vw-k", min: 2, max: 16, step: 1, style: { width: "3.5em" } }),
    panelBar: h("span", { className: "vw-panels", role: "group" }),
    cmapSelect: h("select", { className: "vw-colormap" }),
    exportButton: h("button", { type: "button", className: "vw-export", textContent: "PNG ⤓", title: "Download a PNG of what is shown (FeatureExplorer.save_png writes the same)" }),
    rule: h("div", { className: "vw-rule" }),
    readout: h("div", { className: "vw-readout" }),
    images: h("div", { className: "vw-fx-images" }),
    pckCanvas: h("canvas", { className: "vw-pck", width: 0, height: 0 }),
    status: h("div", { className: "vw-status", role: "status" }),
  };
  v.root.setAttribute("data-lm-suppress-shortcuts", "true");
  const toolbar = h("div", { className: "vw-toolbar" },
    h("label", { title: "Block whose output (or keys, queries) describes the patches" }, "layer", v.layerSlider, v.layerValue),
    h("label", {}, "facet", v.facetSelect),
    h("label", { title: "Clusters of the k-means co-segmentation" }, "k", v.kInput),
    v.panelBar,
    h("label", {}, "colour", v.cmapSelect),
    v.exportButton);
  v.pckPanel = h("div", { className: "vw-pck-panel" }, v.pckCanvas);
  v.root.append(toolbar, v.rule, v.readout, h("div", { className: "vw-fx-body" }, v.images, v.pckPanel), v.status);
  el.appendChild(v.root);
  return v;
}

/**
 * One cell per image: the similarity canvas (class vw-fx-map), the panel canvas (vw-fx-panel)
 * and a label, in view.images.
 * @returns {{cell, canvas, panel, label, base}[]} base: an off-page canvas holding the image
 */
export function buildCells(view, B) {
  const cells = Array.from({ length: B }, (_, j) => {
    const canvas = h("canvas", { className: "vw-fx-map" });
    const panel = h("canvas", { className: "vw-fx-panel" });
    const label = h("div", { className: "vw-fx-label", textContent: `image ${j}` });
    const cell = h("div", { className: "vw-fx-cell", dataset: { image: String(j), brightest: "", match: "", mutual: "" } }, canvas, panel, label);
    return { cell, canvas, panel, label, base: document.createElement("canvas") };
  });
  view.images.replaceChildren(...cells.map((c) => c.cell));
  return cells;
}

/** Controls write their traits. */
export function bindControls(v, model) {
  v.layerSlider.addEventListener("input", () => setTrait(model, "layer", Number(v.layerSlider.value)));
  v.facetSelect.addEventListener("change", () => setTrait(model, "facet", v.facetSelect.value));
  v.cmapSelect.addEventListener("change", () => setTrait(model, "colormap", v.cmapSelect.value));
  v.kInput.addEventListener("change", () => {
    const k = Math.round(Number(v.kInput.value));
    if (k >= 2 && k <= 16) setTrait(model, "k", k);
    else v.kInput.value = String(model.get("k"));
  });
  v.kInput.addEventListener("keydown", (ev) => ev.stopPropagation());
}

/** The choices the kernel offers (facets, panels, colour maps). */
export function renderChoices(v, model) {
  setOptions(v.facetSelect, (model.get("_facets") || []).map((f) => [f.id, f.label]));
  setOptions(v.cmapSelect, (model.get("_colormaps") || []).map((c) => [c, c]));
  v.panelBar.replaceChildren(...(model.get("_panels") || []).map((p) => h("button", {
    type: "button", textContent: p.label, title: p.title, dataset: { panel: p.id },
    onclick: () => setTrait(model, "panel", p.id),
  })));
}

/** Controls show the traits. */
export function syncControls(v, model) {
  const L = model.get("num_layers");
  v.layerSlider.max = String(L - 1);
  v.layerSlider.value = String(model.get("layer"));
  v.layerValue.textContent = `${model.get("layer")} / ${L - 1}`;
  v.facetSelect.value = model.get("facet");
  v.cmapSelect.value = model.get("colormap");
  if (document.activeElement !== v.kInput) v.kInput.value = String(model.get("k"));
  for (const b of v.panelBar.children) b.setAttribute("aria-pressed", String(b.dataset.panel === model.get("panel")));
  Object.assign(v.root.dataset, { layer: String(model.get("layer")), facet: model.get("facet"), k: String(model.get("k")), panel: model.get("panel") });
}
