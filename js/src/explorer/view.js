// The explorer's DOM: the toolbar (layer slider, mode buttons, colour map, opacity, log scale,
// legend), the thumbnail strip, the large view with its title and readout, the grid of head
// cells and the status line. Class names and data-* attributes here are the contract of the
// real-browser tests (vitwidgets/widgets/TESTING.md). User text goes in with textContent.

import { h, ensureStyle, bytesToObjectUrl, setOptions } from "../dom.js";
import { setTrait } from "../model.js";
import { SMALL_WIDTH, FOCUS_WIDTH, explorerLayouts } from "./layouts.js";
import { loadingText } from "./readout.js";

const CSS = `
.vw-explorer { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222); outline: none; }
.vw-explorer:focus-visible { box-shadow: 0 0 0 2px #4a90d9; }
.vw-explorer .vw-toolbar { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; margin-bottom: 6px; }
.vw-explorer .vw-toolbar label { display: inline-flex; gap: 4px; align-items: center; }
.vw-explorer .vw-modes { display: inline-flex; }
.vw-explorer .vw-modes button { border: 1px solid #999; background: var(--jp-layout-color1, #fff); color: inherit; padding: 2px 7px; margin-left: -1px; cursor: pointer; font: inherit; }
.vw-explorer .vw-modes button[aria-pressed="true"] { background: #3465a4; color: #fff; border-color: #3465a4; }
.vw-explorer .vw-body { display: flex; gap: 14px; align-items: flex-start; flex-wrap: wrap; }
.vw-explorer canvas { display: block; image-rendering: pixelated; cursor: crosshair; }
.vw-explorer .vw-heads { display: grid; gap: 6px; }
.vw-explorer .vw-head-cell { padding: 2px; border: 2px solid transparent; border-radius: 3px; cursor: pointer; }
.vw-explorer .vw-head-cell[data-focused="true"] { border-color: #f0a020; }
.vw-explorer .vw-head-label { display: block; font-size: 11px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: ${SMALL_WIDTH}px; }
.vw-explorer .vw-focus-title { font-weight: 600; margin-bottom: 3px; }
.vw-explorer .vw-readout { min-height: 2.8em; max-width: ${FOCUS_WIDTH}px; margin-top: 4px; font-variant-numeric: tabular-nums; }
.vw-explorer .vw-legend { height: 8px; width: 120px; border: 1px solid #888; }
.vw-explorer .vw-colorbar { display: inline-flex; gap: 4px; align-items: center; font-variant-numeric: tabular-nums; }
.vw-explorer .vw-heads-caption, .vw-explorer .vw-focus-caption { font-size: 11px; color: var(--jp-ui-font-color2, #555); max-width: ${FOCUS_WIDTH}px; }
.vw-explorer .vw-focus-caption:empty { display: none; }
.vw-explorer .vw-status { min-height: 1.4em; margin-top: 4px; }
.vw-explorer .vw-status[data-kind="error"] { color: var(--jp-error-color1, #b00020); }
.vw-explorer .vw-status button { margin-left: 8px; }
.vw-explorer .vw-strip { display: flex; gap: 4px; margin-bottom: 6px; flex-wrap: wrap; }
.vw-explorer .vw-strip img { height: 48px; border: 2px solid transparent; cursor: pointer; }
.vw-explorer .vw-strip img[data-selected="true"] { border-color: #f0a020; }
`;

/**
 * Build the explorer's elements inside el.
 * @returns {object} the elements: root, layerSlider, layerValue, modeBar, cmapSelect,
 *   opacitySlider, logBox, scaleSelect, dimSlider, gridBox, contourBox, legend, legendLow, legendHigh,
 *   colorbar, strip, focusTitle, focusCanvas, focusCaption, readout, headsCaption, headsGrid,
 *   status
 */
export function buildView(el) {
  ensureStyle("vitwidgets-explorer-style", CSS, el);
  const v = {
    root: h("div", { className: "vw-explorer", tabIndex: 0 }),
    layerSlider: h("input", { type: "range", className: "vw-layer-slider", min: 0, step: 1 }),
    layerValue: h("span", { className: "vw-layer-value" }),
    modeBar: h("span", { className: "vw-modes", role: "group" }),
    cmapSelect: h("select", { className: "vw-colormap" }),
    opacitySlider: h("input", { type: "range", className: "vw-opacity", min: 0, max: 1, step: 0.05 }),
    logBox: h("input", { type: "checkbox", className: "vw-log" }),
    scaleSelect: h("select", { className: "vw-scale" }),
    dimSlider: h("input", { type: "range", className: "vw-dim", min: 0, max: 1, step: 0.05 }),
    gridBox: h("input", { type: "checkbox", className: "vw-grid-lines" }),
    contourBox: h("input", { type: "checkbox", className: "vw-contour" }),
    legend: h("canvas", { className: "vw-legend", width: 120, height: 8 }),
    legendLow: h("span", { className: "vw-legend-low" }),
    legendHigh: h("span", { className: "vw-legend-high" }),
    strip: h("div", { className: "vw-strip" }),
    focusTitle: h("div", { className: "vw-focus-title" }),
    focusCanvas: h("canvas", { className: "vw-focus" }),
    focusCaption: h("div", { className: "vw-focus-caption" }),
    readout: h("div", { className: "vw-readout" }),
    headsCaption: h("div", { className: "vw-heads-caption" }),
    headsGrid: h("div", { className: "vw-heads" }),
    status: h("div", { className: "vw-status", role: "status" }),
    exportButton: h("button", { type: "button", className: "vw-export", textContent: "PNG ⤓", title: "Download a PNG of what is shown: the large map with its colour bar and the small multiples (AttentionExplorer.save_png writes the same)" }),
  };
  v.root.setAttribute("data-lm-suppress-shortcuts", "true");
  v.colorbar = h("span", { className: "vw-colorbar" }, v.legendLow, v.legend, v.legendHigh);
  const toolbar = h("div", { className: "vw-toolbar" },
    h("label", { title: "Block (arrow keys change it when the widget has focus)" }, "layer", v.layerSlider, v.layerValue),
    v.modeBar,
    h("label", {}, "colour", v.cmapSelect),
    h("label", {}, "opacity", v.opacitySlider),
    h("label", { title: "log10 scale over 3 decades below the maximum" }, v.logBox, "log"),
    h("label", { title: "What the brightest colour stands for" }, "scale", v.scaleSelect),
    h("label", { title: "Darken the image under the maps so that low values show" }, "dim image", v.dimSlider),
    h("label", { title: "Lines between the patches" }, v.gridBox, "grid"),
    h("label", { title: "Outline the cells in the upper half of the colour bar (the contour trait sets another level)" }, v.contourBox, "outline"),
    v.colorbar,
    v.exportButton,
  );
  const focusPanel = h("div", { className: "vw-focus-panel" }, v.focusTitle, v.focusCanvas, v.focusCaption, v.readout);
  const headsPanel = h("div", { className: "vw-heads-panel" }, v.headsCaption, v.headsGrid);
  v.root.append(toolbar, v.strip, h("div", { className: "vw-body" }, focusPanel, headsPanel), v.status);
  el.appendChild(v.root);
  return v;
}

/** Level (colour position) the outline box sets the `contour` trait to. */
export const CONTOUR_LEVEL = 0.5;

/** Sliders, colour map, boxes and the scale write their traits. */
export function bindControls(v, model) {
  v.layerSlider.addEventListener("input", () => setTrait(model, "layer", Number(v.layerSlider.value)));
  v.cmapSelect.addEventListener("change", () => setTrait(model, "colormap", v.cmapSelect.value));
  v.opacitySlider.addEventListener("input", () => setTrait(model, "opacity", Number(v.opacitySlider.value)));
  v.logBox.addEventListener("change", () => setTrait(model, "log_scale", v.logBox.checked));
  v.scaleSelect.addEventListener("change", () => setTrait(model, "scale", v.scaleSelect.value));
  v.dimSlider.addEventListener("input", () => setTrait(model, "dim", Number(v.dimSlider.value)));
  v.gridBox.addEventListener("change", () => setTrait(model, "grid_lines", v.gridBox.checked));
  v.contourBox.addEventListener("change", () => setTrait(model, "contour", v.contourBox.checked ? CONTOUR_LEVEL : 0));
}

/**
 * One button per mode, in the given order.
 * @param {{id: string, label: string, title: string}[]} modes the `_modes` trait
 * @param {(id: string) => void} onPick
 */
export function renderModeButtons(bar, modes, onPick) {
  bar.replaceChildren(...modes.map((m) =>
    h("button", { type: "button", textContent: m.label, title: m.title, dataset: { mode: m.id }, onclick: () => onPick(m.id) })));
}

/** The colour map <select>'s options: one per name of the `_colormaps` trait. */
export function renderColormapOptions(select, names) {
  setOptions(select, names.map((n) => [n, n]));
}

/** The scale <select>'s options: one per entry of the `_scales` trait ({id, label, title}). */
export function renderScaleOptions(select, scales) {
  setOptions(select, scales.map((s) => [s.id, s.label]));
  [...select.options].forEach((opt, i) => { opt.title = scales[i].title || ""; });
}

/** Mode buttons, colour map and scale options from the `_modes`, `_colormaps` and `_scales` traits. */
export function renderChoices(v, model) {
  renderModeButtons(v.modeBar, model.get("_modes") || [], (id) => setTrait(model, "mode", id));
  renderColormapOptions(v.cmapSelect, model.get("_colormaps") || []);
  renderScaleOptions(v.scaleSelect, model.get("_scales") || []);
}

/**
 * The colour bar's words (scale.js legendText): the texts at its ends, its tooltip, and the
 * top value on the root's data-scale-max.
 */
export function showLegend(v, { low, high, title }, vmax) {
  v.legendLow.textContent = low;
  v.legendHigh.textContent = high;
  v.colorbar.title = title;
  v.root.dataset.scaleMax = String(vmax);
}

/** Controls and the root's selection attributes from the model's traits. */
export function syncControls(v, model) {
  const L = model.get("num_layers");
  const layer = model.get("layer");
  const mode = model.get("mode");
  const noPrefix = (model.get("prefix_names") || []).length === 0;
  v.layerSlider.max = String(Math.max(0, L - 1));
  v.layerSlider.value = String(layer);
  v.layerValue.textContent = `${layer} / ${L - 1}`;
  for (const b of v.modeBar.children) {
    b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
    b.disabled = b.dataset.mode === "cls" && noPrefix; // no CLS token to start from
  }
  v.cmapSelect.value = model.get("colormap");
  v.opacitySlider.value = String(model.get("opacity"));
  v.logBox.checked = !!model.get("log_scale");
  v.scaleSelect.value = model.get("scale") ?? "map";
  v.dimSlider.value = String(model.get("dim") ?? 0);
  v.gridBox.checked = !!model.get("grid_lines");
  v.contourBox.checked = (model.get("contour") ?? 0) > 0;
  Object.assign(v.root.dataset, {
    layer: String(layer), head: String(model.get("head")), mode,
    image: String(model.get("image_index")), pinned: String(model.get("query") >= 0),
    colormap: model.get("colormap"), logScale: String(!!model.get("log_scale")),
    scale: model.get("scale") ?? "map", gridLines: String(!!model.get("grid_lines")),
  });
}

/**
 * Show a status line: kind null clears it, "info" or "error" shows text; with onRetry an
 * error gets a retry button. Mirrors an error's text on the root's data-error.
 */
export function setStatus(v, kind, text, onRetry = null) {
  v.status.replaceChildren();
  v.status.dataset.kind = kind || "";
  v.root.dataset.error = kind === "error" ? text : "";
  if (!kind) return;
  v.status.appendChild(h("span", { className: "vw-status-text", textContent: text }));
  if (onRetry) v.status.appendChild(h("button", { type: "button", className: "vw-retry", textContent: "retry", onclick: onRetry }));
}

/**
 * What the root and the status line show while loading: the loader's onLoading, onReady and
 * onError (see state.js createLoader). An error offers a retry that calls retry(). While
 * loading, ready stays "false" until something paints (rows the kernel answers first may).
 * @param {() => void} ready repaint once the data is there
 * @param {() => void} [loading] called once the root shows loading (paint what is at hand)
 */
export function loaderHooks(v, { ready, retry, loading = () => {} }) {
  return {
    onLoading(sel) {
      Object.assign(v.root.dataset, { ready: "false", loading: "true" });
      setStatus(v, "info", loadingText(sel));
      loading();
    },
    onReady() {
      v.root.dataset.loading = "false";
      setStatus(v, null);
      ready();
    },
    onError(err) {
      v.root.dataset.loading = "false";
      setStatus(v, "error", err.message, () => { setStatus(v, null); retry(); });
    },
  };
}

/**
 * The grid of H head cells (canvas and label each); clicking a cell calls onFocus(head).
 * @returns {{canvas, label, cell}[]}
 */
export function buildHeadCells(grid, H, onFocus) {
  grid.replaceChildren();
  grid.style.gridTemplateColumns = `repeat(${Math.ceil(Math.sqrt(H))}, auto)`;
  const heads = [];
  for (let hd = 0; hd < H; hd++) {
    const canvas = h("canvas", { className: "vw-head", dataset: { head: String(hd) } });
    const label = h("span", { className: "vw-head-label" });
    const cell = h("div", { className: "vw-head-cell", dataset: { head: String(hd) }, title: `head ${hd}: click to focus` }, canvas, label);
    cell.addEventListener("click", () => onFocus(hd));
    grid.appendChild(cell);
    heads.push({ canvas, label, cell });
  }
  return heads;
}

function blankCanvas(layout) {
  const c = document.createElement("canvas");
  c.width = layout.width;
  c.height = layout.height;
  return c;
}

/**
 * Layouts, head cells and base canvases for the model's current shape (grid, prefix tokens,
 * heads): the explorer's `structure`.
 */
export function buildStructure(v, model, onFocus) {
  const layouts = explorerLayouts({
    grid: model.get("grid"), numPrefix: (model.get("prefix_names") || []).length, numHeads: model.get("num_heads"),
  });
  const heads = buildHeadCells(v.headsGrid, layouts.H, onFocus);
  return { ...layouts, heads, baseSmall: blankCanvas(layouts.small), baseFocus: blankCanvas(layouts.focus) };
}

/**
 * The thumbnail strip of the model's `_thumbnails`: render() replaces the thumbnails (and
 * releases the old object URLs), mark() marks `image_index`'s, dispose() releases the URLs.
 */
export function createStrip(v, model) {
  let urls = [];
  const mark = () => markStrip(v.strip, model.get("image_index"));
  return {
    render() {
      revokeUrls(urls);
      urls = renderStrip(v.strip, model.get("_thumbnails") || [], model.get("_image_format"), (i) => setTrait(model, "image_index", i));
      mark();
    },
    mark,
    dispose: () => revokeUrls(urls),
  };
}

/**
 * Thumbnails of the images (shown only with several); clicking one calls onPick(i).
 * @param {DataView[]} thumbs PNG/JPEG bytes of each image
 * @returns {string[]} the object URLs made (revoke them with revokeUrls)
 */
export function renderStrip(strip, thumbs, format, onPick) {
  strip.replaceChildren();
  strip.style.display = thumbs.length > 1 ? "flex" : "none";
  return thumbs.map((data, i) => {
    const url = bytesToObjectUrl(data, format || "image/png");
    const img = h("img", { src: url, alt: `image ${i}`, title: `image ${i}`, dataset: { image: String(i) } });
    img.addEventListener("click", () => onPick(i));
    strip.appendChild(img);
    return url;
  });
}

/** Mark the current image's thumbnail (data-selected). */
export function markStrip(strip, current) {
  for (const img of strip.children) img.dataset.selected = String(Number(img.dataset.image) === current);
}

/** Release object URLs from renderStrip. */
export function revokeUrls(urls) {
  urls.forEach((u) => URL.revokeObjectURL(u));
}
