// AttentionExplorer: the image with its patch grid, per-head attention as small multiples and a
// large view of the focused head. `layer_data` ships each image/layer once, in the form the
// kernel picks by size (state.js): dense attention [H, N, N] or q/k/lse, from which hover is
// answered here (layervalues.js), or nothing ("kernel": too big), when every hover asks the
// kernel's `rows` command (kernelrows.js: one request in flight, latest wins). The cache keeps
// those entries within a byte budget (state.js CACHE_BYTES) and the kernel's rows in an LRU.
// Before a layer arrives the shown query's rows are asked for first, so the first paint need
// not wait for a big reply. Semantic selection (image_index, layer, head, query) lives in model
// traits; hover, colour map, opacity and log scale are drawn here. The modes and colour maps
// offered come from the kernel (`_modes`, `_colormaps`). A widget that outlived its kernel
// (Restart Kernel, cell not re-run) says so in its status line for good (rpc.js onDisconnect);
// the PNG button and the kernel's `export_png` request (save_png) use export.js. This entry
// only wires the parts.

import { createRpc } from "../rpc.js";
import { setTrait, listen } from "../model.js";
import { CACHE_BYTES, createByteLru, createLoader, selectionOf, cachedParts } from "./state.js";
import { createLayerValues } from "./layervalues.js";
import { createKernelRows } from "./kernelrows.js";
import { buildView, bindControls, buildStructure, renderChoices, syncControls, loaderHooks, setStatus, createStrip } from "./view.js";
import { paint, drawBases, drawLegend } from "./paint.js";
import { attachPointer, attachPinning } from "./pointer.js";
import { attachKeyboard } from "./keyboard.js";
import { createImageDecoder } from "./image.js";
import { explorerPng, exportFileName, downloadBytes } from "./export.js";

/** The widget outlived its kernel: say so for good, without a retry (only re-running the cell helps). */
function showLost(view, message) {
  Object.assign(view.root.dataset, { loading: "false", disconnected: "true" });
  setStatus(view, "error", message);
}

/** The loader's status hooks, except that once the kernel is gone the status line keeps saying so. */
function keepLost(rpc, view, hooks) {
  const after = (fn) => (...args) => {
    fn(...args);
    if (rpc.disconnected) showLost(view, rpc.disconnected);
  };
  return { onLoading: after(hooks.onLoading), onReady: after(hooks.onReady), onError: after(hooks.onError) };
}

/**
 * The export button downloads the PNG; the kernel's `export_png` request ({scale, wait_ms}:
 * how long to wait for the selection to be drawn) gets the same bytes.
 * @returns {() => void} releases the last download's object URL
 */
function bindExport(app, rpc) {
  const { model, view } = app;
  const name = () => exportFileName({ model: model.get("model_name"), image: model.get("image_index"), layer: model.get("layer"), head: model.get("head"), mode: model.get("mode") });
  let url = null; // the last download's, kept until the next one has started
  const release = () => { if (url) URL.revokeObjectURL(url); url = null; };
  view.exportButton.addEventListener("click", () => {
    explorerPng(app).then((png) => { release(); url = downloadBytes(document, png.bytes, name()); },
      (err) => setStatus(view, "error", `PNG export failed: ${err.message}`));
  });
  rpc.serve("export_png", async ({ scale = 2, wait_ms: waitMs = 0 } = {}) => {
    const png = await explorerPng(app, { scale, waitMs });
    return { result: { width: png.width, height: png.height, name: name() }, buffers: [png.bytes] };
  });
  return release;
}

/** Whether the kernel's rows of params are the only source of the current selection's maps. */
function onlyFromKernel(app, params) {
  const sel = selectionOf(app.model);
  if (params.image !== sel.image || params.layer !== sel.layer) return false;
  const { attention, extra } = cachedParts(app.cache, sel);
  return (params.kind === "rollout" ? extra : attention)?.form === "kernel";
}

/** The kernel's rows for app: repaint when the current selection's arrive; errors shown when they are all there is. */
function kernelRowsOf(app, rpc) {
  const { model, view } = app;
  return createKernelRows({
    rpc,
    grid: () => ({ P: (model.get("prefix_names") || []).length, gh: model.get("grid")[0], gw: model.get("grid")[1] }),
    onRows(params) {
      const sel = selectionOf(model);
      if (params.image === sel.image && params.layer === sel.layer) paint(app);
    },
    onError(params, err) {
      if (err.disconnected) showLost(view, err.message);
      else if (onlyFromKernel(app, params)) setStatus(view, "error", err.message, () => { setStatus(view, null); paint(app); });
    },
    onStats: ({ inFlight, received }) => Object.assign(view.root.dataset, { rowsInFlight: String(inFlight), kernelRows: String(received) }),
  });
}

function render({ model, el }) {
  const view = buildView(el);
  const rpc = createRpc(model, { timeoutMs: model.get("request_timeout_ms") || 60000, onDisconnect: (err) => showLost(view, err.message) });
  const app = {
    model, view, cache: createByteLru(CACHE_BYTES), values: createLayerValues(), rows: null, structure: null, image: null,
    hover: -1, alignedHover: -1, paintCount: 0, scratch: document.createElement("canvas"),
  };
  app.rows = kernelRowsOf(app, rpc);
  const loader = createLoader({
    rpc, cache: app.cache, selection: () => selectionOf(model), numLayers: () => model.get("num_layers"),
    ...keepLost(rpc, view, loaderHooks(view, { ready: () => paint(app), retry: () => loader.ensure(), loading: () => paint(app) })),
  });
  const decodeImage = createImageDecoder({
    onImage: (image) => { app.image = image; drawBases(app); paint(app); },
    onError: (message) => setStatus(view, "error", message),
  });
  const showImage = () => decodeImage(model.get("_image"), model.get("_image_format"));
  const strip = createStrip(view, model);
  const sync = () => { syncControls(view, model); drawLegend(view.legend, model.get("colormap"), model.get("log_scale")); };
  const rebuild = () => {
    app.cache.clear();
    app.rows.clear();
    app.structure = buildStructure(view, model, (hd) => setTrait(model, "head", hd));
    app.structure.heads.forEach((c) => attachPointer(app, c.canvas, false));
    drawBases(app);
    sync();
  };
  bindControls(view, model);
  const releaseExport = bindExport(app, rpc);
  attachKeyboard(view.root, model);
  attachPointer(app, view.focusCanvas, true);
  attachPinning(app, view.focusCanvas);
  const off = listen(model, [
    ["change:layer change:image_index change:mode", () => { sync(); strip.mark(); app.rows.reset(); loader.ensure(); }],
    ["change:head change:query change:colormap change:opacity change:log_scale change:head_tags change:scale change:grid_lines change:contour", () => { sync(); paint(app); }],
    ["change:dim", () => { sync(); drawBases(app); paint(app); }],
    ["change:_modes change:_colormaps change:_scales", () => { renderChoices(view, model); sync(); paint(app); }],
    ["change:_image change:_image_format", showImage],
    ["change:_thumbnails", strip.render],
    ["change:grid change:num_heads change:prefix_names change:num_layers change:model_name change:_session_version",
      () => { rebuild(); loader.ensure(); }],
  ]);

  renderChoices(view, model);
  rebuild();
  strip.render();
  Object.assign(view.root.dataset, { hoverCell: "-1", ready: "false", kernelRows: "0", rowsInFlight: "0" });
  showImage();
  loader.ensure();
  return () => {
    off();
    app.rows.dispose();
    rpc.dispose();
    strip.dispose();
    releaseExport();
  };
}

export default { render };
