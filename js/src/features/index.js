// FeatureExplorer: a set of images through one layer's patch features. `layer_data` ships a
// layer once (data.js); hover is answered here (similarity.js: the cosine of the hovered patch
// to every patch of every image, painted by paint.js at once), a click asks the kernel's
// `matches` (best match per image, mutual nearest neighbours flagged), one request in flight
// and the newest click winning (rowfetch.js). Semantic selection (image_index, layer, query)
// lives in model traits; hover is drawn here. Errors and a lost kernel show in the status line
// (study.js); the PNG button and the kernel's `export_png` use explorer/export.js.

import { createRpc } from "../rpc.js";
import { setTrait, setTraits, listen } from "../model.js";
import { createRowFetcher } from "../rowfetch.js";
import { createLru } from "../explorer/state.js";
import { canvasPoint } from "../explorer/pointer.js";
import { createImageDecoder } from "../explorer/image.js";
import { composeExport } from "../explorer/export.js";
import { LIGHT, themeOf } from "../chart.js";
import { bindStudyExport, showStatus, sizeCanvas, watchTheme } from "../study.js";
import { buildView, buildCells, bindControls, renderChoices, syncControls } from "./view.js";
import { drawBases, layoutsOf, paintMaps, paintPanels, shownPatch } from "./paint.js";
import { LAYER_ENTRIES, MATCH_ENTRIES, decodeLayer, layerJob, layerKey, layerSelection, matchJob } from "./data.js";
import { PCK_SIZE, drawPck, layerAt, pckFrame } from "./pck.js";
import { cellLabel, loadingText, readoutText, ruleText, wrapWords } from "./readout.js";

const status = (app, state) => showStatus(app.view, { lost: app.rpc.disconnected, ...state });

/** The clicked patch of the model's selection, as {image, patch} (or null). */
function pinned(model) {
  return shownPatch(null, { image: model.get("image_index"), query: model.get("query"), P: model.get("num_prefix") });
}

/** Labels, readout and rule line from what is shown. */
function updateText(app) {
  const { model, view, data } = app;
  const shown = shownPatch(app.hover, { image: model.get("image_index"), query: model.get("query"), P: model.get("num_prefix") });
  const matches = app.matchesShown(shown);
  app.cells.forEach((c, j) => {
    const match = matches && j !== shown.image ? { similarity: matches.similarity[j], mutual: matches.mutual[j] } : null;
    const maxCos = c.cell.dataset.maxCos ? Number(c.cell.dataset.maxCos) : null;
    c.label.textContent = cellLabel(j, { maxCos, match, isSource: shown?.image === j });
    Object.assign(c.cell.dataset, { selected: String(shown?.image === j), match: match ? String(matches.best[j]) : "",
      mutual: match ? String(match.mutual) : "", matchSimilarity: match ? match.similarity.toFixed(4) : "" });
  });
  view.root.dataset.matches = matches ? `${matches.image}:${matches.patch}` : "";
  view.readout.textContent = readoutText({ shown, range: app.shown?.range, data, gw: model.get("grid")[1], pinned: !app.hover });
  view.rule.textContent = ruleText(data, model.get("panel"));
}

function repaint(app) {
  const shown = shownPatch(app.hover, { image: app.model.get("image_index"), query: app.model.get("query"), P: app.model.get("num_prefix") });
  paintMaps(app, app.data ? shown : null);
  updateText(app);
}

/** Draw the PCK plot of the model's `pck` on canvas in a chart.js theme. */
function renderPck(canvas, model, theme) {
  sizeCanvas(canvas, PCK_SIZE.width, PCK_SIZE.height);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, PCK_SIZE.width, PCK_SIZE.height);
  drawPck(ctx, model.get("pck"), { frame: pckFrame(PCK_SIZE), layer: model.get("layer"), theme, alpha: model.get("pck_alpha") ?? 0.1 });
  return canvas;
}

function drawPckPlot(app) {
  const shown = (app.model.get("pck") || []).length > 0;
  app.view.pckPanel.style.display = shown ? "" : "none";
  if (shown) renderPck(app.view.pckCanvas, app.model, themeOf(app.view.root));
}

/** Ask for the current layer's data unless it is here; show it when it is. */
function ensureLayer(app) {
  const sel = layerSelection(app.model);
  const key = layerKey(sel, app.model.get("_data_version"));
  const have = app.layers.get(key);
  app.data = have ?? null;
  app.view.root.dataset.ready = String(Boolean(have));
  app.view.root.dataset.loading = String(!have);
  if (have) {
    app.view.root.dataset.dims = String(have.dims);
    status(app, {});
  } else {
    status(app, { status: loadingText(sel) });
    app.loader.want(layerJob(sel, app.model.get("_data_version")));
  }
  paintPanels(app);
  repaint(app);
}

/** Ask the kernel for the clicked patch's matches (latest click wins). */
function ensureMatches(app) {
  const p = pinned(app.model);
  if (!p) return repaint(app);
  app.matcher.want(matchJob({ ...p, layer: app.model.get("layer"), facet: app.model.get("facet") }));
  repaint(app);
}

/** ensureMatches once the current task is done: a click sets image_index and query one after
 * the other, and only the pair asks the kernel. */
function scheduleMatches(app) {
  if (app.matchesQueued) return;
  app.matchesQueued = true;
  queueMicrotask(() => { app.matchesQueued = false; ensureMatches(app); });
}

function createFetchers(app) {
  const { rpc } = app;
  const fail = (err) => status(app, { error: err.message });
  app.loader = createRowFetcher({
    request: (params) => rpc.request("layer_data", params),
    isCached: (key) => app.layers.has(key),
    onRows(job, { result, buffers }) {
      try { app.layers.set(job.key, decodeLayer(result, buffers)); } catch (err) { return fail(err); }
      ensureLayer(app);
    },
    onError: (_job, err) => fail(err),
  });
  app.matcher = createRowFetcher({
    request: (params) => rpc.request("matches", params),
    isCached: (key) => app.matchCache.has(key),
    onRows(job, { result }) { app.matchCache.set(job.key, result); repaint(app); },
    onError: (_job, err) => fail(err),
  });
  app.matchesShown = (shown) => {
    if (!shown) return null;
    const job = matchJob({ ...shown, layer: app.model.get("layer"), facet: app.model.get("facet") });
    return app.matchCache.get(job.key) ?? null;
  };
}

/** Hover and click on each image's map. */
function attachPointer(app, c, j) {
  const at = (ev) => {
    const { x, y } = canvasPoint(c.canvas, ev);
    return layoutsOf(app.model.get("grid")).map.tokenAt(x, y);
  };
  c.canvas.addEventListener("mousemove", (ev) => {
    const g = at(ev);
    const next = g >= 0 ? { image: j, patch: g } : null;
    if (next?.patch === app.hover?.patch && next?.image === app.hover?.image) return;
    app.hover = next;
    repaint(app);
  });
  c.canvas.addEventListener("mouseleave", () => { app.hover = null; repaint(app); });
  c.canvas.addEventListener("click", (ev) => {
    const g = at(ev);
    if (g < 0) return;
    const P = app.model.get("num_prefix");
    const same = app.model.get("image_index") === j && app.model.get("query") === P + g;
    app.hover = { image: j, patch: g }; // the pointer is where it clicked
    if (!setTraits(app.model, { image_index: j, query: same ? -1 : P + g })) repaint(app);
  });
}

function buildImages(app) {
  app.cells = buildCells(app.view, app.model.get("num_images"));
  app.cells.forEach((c, j) => attachPointer(app, c, j));
  app.bitmaps = [];
  const images = app.model.get("_images") || [];
  images.forEach((bytes, j) => createImageDecoder({
    onImage: (bitmap) => { app.bitmaps[j] = bitmap; drawBases(app); repaint(app); },
    onError: (message) => status(app, { error: message }),
  })(bytes, "image/png"));
  drawBases(app);
}

function exportCanvas(app, scale) {
  const { model, view } = app;
  const title = `${model.get("model_name")} · block ${model.get("layer")} / ${model.get("num_layers") - 1} · ${model.get("facet")}`;
  const chars = model.get("pck")?.length ? 44 : 30; // the text column is as wide as the PCK plot (300 px), else 200 px
  const lines = [view.rule.textContent, view.readout.textContent].flatMap((t) => wrapWords(t, chars)).map((text) => ({ text }));
  // the PNG is light whatever the page's theme (chart.js LIGHT: dark ink on white)
  const focus = [...lines, model.get("pck")?.length ? { canvas: renderPck(document.createElement("canvas"), model, LIGHT) } : null].filter(Boolean);
  const cells = [...app.cells.map((c) => ({ canvas: c.canvas, label: c.label.textContent, focused: c.cell.dataset.selected === "true" })),
    ...app.cells.map((c, j) => ({ canvas: c.panel, label: `image ${j} · ${model.get("panel")}` }))];
  return composeExport(document, { title, focus, heads: { columns: app.cells.length, cells } }, { scale });
}

function render({ model, el }) {
  const view = buildView(el);
  const app = { model, view, layers: createLru(LAYER_ENTRIES), matchCache: createLru(MATCH_ENTRIES), hover: null, data: null, paintCount: 0, scratch: document.createElement("canvas") };
  app.rpc = createRpc(model, { timeoutMs: model.get("request_timeout_ms") || 120000, onDisconnect: () => status(app, {}) });
  createFetchers(app);
  bindControls(view, model);
  renderChoices(view, model);
  view.pckCanvas.addEventListener("click", (ev) => {
    const n = (model.get("pck") || []).length;
    if (n) setTrait(model, "layer", layerAt(pckFrame(PCK_SIZE), n, canvasPoint(view.pckCanvas, ev).x));
  });
  const releaseExport = bindStudyExport(view, app.rpc, { png: (scale) => exportCanvas(app, scale), what: "the feature explorer",
    name: () => `vitwidgets-${String(model.get("model_name")).replace(/[^A-Za-z0-9._-]+/g, "_")}-features-block${model.get("layer")}-${model.get("facet")}.png` });
  const unwatch = watchTheme(document, () => drawPckPlot(app), app.view.root);
  const sync = () => { syncControls(view, model); drawPckPlot(app); };
  const off = listen(model, [
    ["change:layer change:facet change:k change:_data_version", () => { sync(); app.loader.reset(); ensureLayer(app); ensureMatches(app); }],
    ["change:query change:image_index", () => scheduleMatches(app)],
    ["change:panel", () => { sync(); paintPanels(app); updateText(app); }],
    ["change:colormap", () => { sync(); repaint(app); }],
    ["change:pck change:pck_alpha", sync],
    ["change:_images change:grid change:num_images", () => { buildImages(app); ensureLayer(app); }],
  ]);
  sync();
  buildImages(app);
  Object.assign(view.root.dataset, { paintCount: "0", hoverImage: "-1", hoverPatch: "-1", matches: "" });
  ensureLayer(app);
  ensureMatches(app);
  return () => { off(); unwatch(); releaseExport(); app.loader.dispose(); app.matcher.dispose(); app.rpc.dispose(); };
}

export default { render };
