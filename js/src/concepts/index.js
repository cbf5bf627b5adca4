// ConceptMap: Network-Dissection labels of a model's units per block (the kernel labels them
// over a dataset with concept masks and sends them in `_labels` when both passes are in; the
// status line counts the batches). The bars (share of the labelled units per concept category,
// distinct concepts), their readout and the unit list with its category filter are answered
// here; a click on a bar sets `layer` (linked by Python to other views), a click on a unit sets
// `unit` and asks the kernel for its maps on its top images (`unit_maps`, latest click wins).
// This entry only wires data.js, paint.js and the shared study.js.

import { createRpc } from "../rpc.js";
import { setTrait, setTraits, listen } from "../model.js";
import { composeChart, themeOf, drawText } from "../chart.js";
import { canvasPoint } from "../explorer/pointer.js";
import { buildStudyView, showStatus, bindStudyExport, watchTheme, sizeCanvas } from "../study.js";
import { h, ensureStyle, setOptions, bytesToObjectUrl } from "../dom.js";
import { createRowFetcher } from "../rowfetch.js";
import { barsOf, barText, blockPosition, brightestCell, categoryColours, decodeUnit, mapRange, unitKey, unitRows } from "./data.js";
import { barAt, barsLayout, mapsLayout, paintBars, paintUnitMaps } from "./paint.js";

const CSS = `
.vw-concepts .vw-concepts-body { display: flex; gap: 16px; align-items: flex-start; margin-top: 6px; }
.vw-concepts .vw-concepts-list { width: 280px; flex: none; }
.vw-concepts .vw-concepts-rows { max-height: 220px; overflow-y: auto; border: 1px solid var(--jp-border-color2, #8884); }
.vw-concepts .vw-concepts-row { display: grid; grid-template-columns: 44px 12px 1fr 48px; gap: 6px; align-items: center; padding: 1px 6px; cursor: pointer; font-variant-numeric: tabular-nums; }
.vw-concepts .vw-concepts-row:hover { background: var(--jp-layout-color2, #8882); }
.vw-concepts .vw-concepts-row[data-selected="true"] { outline: 2px solid #f0a020; outline-offset: -2px; }
.vw-concepts .vw-concepts-swatch { width: 10px; height: 10px; }
.vw-concepts .vw-concepts-iou { text-align: right; }
.vw-concepts .vw-concepts-head { display: flex; gap: 6px; align-items: center; margin-bottom: 4px; }
.vw-concepts select { background: var(--jp-layout-color1, transparent); color: inherit; border: 1px solid #999; font: inherit; }
.vw-concepts .vw-concepts-empty { padding: 4px 6px; color: var(--jp-ui-font-color2, #888); }
.vw-concepts .vw-concepts-unit-text { min-height: 1.4em; margin-bottom: 4px; }
`;

/** What the bars and the list need, from the model's traits. */
function stateOf(model) {
  const labels = model.get("_labels") || {};
  const categories = model.get("categories") || [];
  const layer = model.get("layer");
  return { labels, categories, colours: categoryColours(categories), bars: barsOf(labels, categories), layer, pos: blockPosition(labels, layer), unit: model.get("unit"), category: model.get("category") };
}

function buildBody(view, el) {
  ensureStyle("vw-concepts-style", CSS, el);
  const filter = h("select", { className: "vw-concepts-filter", title: "Show the units of one concept category" });
  const count = h("span", { className: "vw-concepts-count" });
  const rows = h("div", { className: "vw-concepts-rows" });
  const unitText = h("div", { className: "vw-concepts-unit-text" });
  const maps = h("canvas", { className: "vw-concepts-maps" });
  const list = h("div", { className: "vw-concepts-list" }, h("div", { className: "vw-concepts-head" }, filter, count), rows);
  const unit = h("div", { className: "vw-concepts-unit" }, unitText, maps);
  view.root.appendChild(h("div", { className: "vw-concepts-body" }, list, unit));
  return { filter, count, rows, unitText, maps };
}

/** The list of the selected block's labelled units (click one to select it). */
function fillRows(app, s) {
  const key = [s.pos, s.category, s.unit, s.labels, app.model.get("done")];
  if (app.rowsKey && key.every((v, i) => v === app.rowsKey[i])) return; // a hover repaints the bars only
  app.rowsKey = key;
  const rows = unitRows(s.labels, s.pos, s.category);
  const { body } = app;
  body.count.textContent = s.pos < 0 ? "" : `${rows.length} unit${rows.length === 1 ? "" : "s"} of block ${s.layer}`;
  if (s.pos < 0) {
    body.rows.replaceChildren(h("div", { className: "vw-concepts-empty" }, app.model.get("done") ? `block ${s.layer} was not labelled` : "labelling the units…"));
  } else if (!rows.length) {
    body.rows.replaceChildren(h("div", { className: "vw-concepts-empty" }, "no labelled unit"));
  } else {
    body.rows.replaceChildren(...rows.map((r) => h("div", {
      className: "vw-concepts-row", title: `unit ${r.unit}: ${r.name} (${r.category}), IoU ${r.iou.toFixed(3)}`,
      dataset: { unit: String(r.unit), concept: r.name, category: r.category, iou: String(r.iou), selected: String(r.unit === s.unit) },
      onclick: () => setTrait(app.model, "unit", r.unit),
    }, `#${r.unit}`, h("span", { className: "vw-concepts-swatch", style: { background: s.colours[r.category] } }), r.name, h("span", { className: "vw-concepts-iou" }, r.iou.toFixed(3)))));
  }
  app.view.root.dataset.unitsShown = String(rows.length);
}

/** The shown unit's maps (from the cache) as paintUnitMaps takes them, or null. */
function mapsState(app, s) {
  const entry = s.pos >= 0 && s.unit >= 0 ? app.cache.get(unitKey(s.layer, s.unit)) : null;
  if (!entry) return null;
  const d = entry.data;
  return {
    ...d, indices: d.images, images: entry.images.map((img) => (img.complete && img.naturalWidth ? img : null)), range: mapRange(d.maps),
    colormap: app.model.get("colormap"), opacity: 0.8, captions: d.images.map((i, j) => `image ${i} · peak ${d.peaks[j].toFixed(2)}`),
  };
}

function unitLine(s, m) {
  if (s.unit < 0) return "Click a unit to see its activation maps on its top images.";
  const c = s.labels.summary?.[s.pos]?.best?.[s.unit];
  const label = c >= 0 ? `${s.labels.concepts[c][0]} (${s.labels.concepts[c][1]})` : "no concept";
  const next = m ? ` · best IoUs: ${m.top_concepts.map(([i, v]) => `${s.labels.concepts[i][0]} ${v.toFixed(3)}`).join(", ")}` : " · loading its maps…";
  return `unit ${s.unit} of block ${s.layer}: ${label}${next}`;
}

function paintMaps(app, s) {
  const m = mapsState(app, s);
  const { maps, unitText } = app.body;
  unitText.textContent = s.pos < 0 ? "" : unitLine(s, m);
  const root = app.view.root.dataset;
  if (!m) {
    sizeCanvas(maps, 1, 1);
    Object.assign(root, { mapsUnit: "", mapsImages: "", brightest: "", imagesLoaded: "0" });
    return;
  }
  const L = mapsLayout(m.k);
  sizeCanvas(maps, L.width, L.height);
  const ctx = maps.getContext("2d");
  ctx.clearRect(0, 0, L.width, L.height);
  paintUnitMaps(ctx, L, m, themeOf(app.view.root));
  const brightest = Array.from({ length: m.k }, (_, j) => { const b = brightestCell(m.maps, m.gh, m.gw, j); return [b.row, b.col]; });
  Object.assign(root, {
    mapsUnit: unitKey(m.layer, m.unit), mapsImages: m.indices.join(","), brightest: JSON.stringify(brightest),
    imagesLoaded: String(m.images.filter(Boolean).length), grid: `${m.gh},${m.gw}`, tile: String(L.tiles[0]?.w ?? 0),
  });
}

function paint(app) {
  const { model, view } = app;
  const s = stateOf(model);
  const L = barsLayout(s.bars.length);
  sizeCanvas(view.canvas, L.width, L.height);
  const ctx = view.canvas.getContext("2d");
  ctx.clearRect(0, 0, L.width, L.height);
  paintBars(ctx, L, { ...s, selected: s.pos, hover: app.hover }, themeOf(view.root));
  view.title.textContent = `Concepts per block: ${model.get("model_name")}`;
  view.readout.textContent = barText(s.bars[app.hover >= 0 ? app.hover : s.pos], s.categories);
  setOptions(app.body.filter, [["", "all categories"], ...s.categories.map((c) => [c, c])]);
  app.body.filter.value = s.category;
  fillRows(app, s);
  paintMaps(app, s);
  Object.assign(view.root.dataset, {
    layer: String(s.layer), unit: String(s.unit), category: s.category, blocks: (s.labels.blocks ?? []).join(","),
    frameX: String(L.frame.x), frameY: String(L.frame.y), frameH: String(L.frame.h), barStep: String(L.step), hoverBlock: String(s.bars[app.hover]?.layer ?? -1),
    ready: String(Boolean(model.get("done")) && s.bars.length > 0), paintCount: String(++app.paintCount),
  });
  want(app, s);
}

/** Ask the kernel for the selected unit's maps (latest wins; cached ones are at hand). */
function want(app, s) {
  if (!app.model.get("done") || s.pos < 0 || s.unit < 0) return;
  const key = unitKey(s.layer, s.unit);
  app.fetcher.want({ key, params: { layer: s.layer, unit: s.unit } });
}

const CACHE_ENTRIES = 24;

function remember(app, key, data) {
  const urls = data.pngs.map((b) => bytesToObjectUrl(b));
  const images = urls.map((url) => { const img = new Image(); img.onload = () => paintMaps(app, stateOf(app.model)); img.src = url; return img; });
  app.cache.set(key, { data, images, urls });
  while (app.cache.size > CACHE_ENTRIES) {
    const [old, entry] = app.cache.entries().next().value;
    entry.urls.forEach((u) => URL.revokeObjectURL(u));
    app.cache.delete(old);
  }
}

function exportCanvas(app, scale) {
  const s = stateOf(app.model);
  const L = barsLayout(s.bars.length);
  const m = mapsState(app, s);
  const ML = m ? mapsLayout(m.k) : null;
  const extra = ML ? ML.height + 28 : 0;
  const title = `${app.view.title.textContent} · Network Dissection over ${app.model.get("num_images")} images (IoU ≥ ${app.model.get("iou_threshold")})`;
  return composeChart(document, Math.max(L.width, ML?.width ?? 0), L.height + extra, (ctx, theme) => {
    paintBars(ctx, L, { ...s, selected: s.pos, hover: -1 }, theme);
    if (!ML) return;
    drawText(ctx, unitLine(s, m), 8, L.height + 10, { baseline: "middle", colour: theme.ink, size: 11 });
    ctx.translate(0, L.height + 24);
    paintUnitMaps(ctx, ML, m, theme);
  }, { scale, title });
}

function render({ model, el }) {
  const view = buildStudyView(el, "vw-concepts", "vw-concepts-canvas");
  const app = { model, view, body: buildBody(view, el), hover: -1, paintCount: 0, cache: new Map(), lost: null };
  const status = (extra = {}) => showStatus(view, { error: model.get("error"), status: model.get("status"), lost: app.lost, ...extra });
  const rpc = createRpc(model, { timeoutMs: model.get("request_timeout_ms") ?? 120000, onDisconnect: (err) => { app.lost = err.message; status(); } });
  app.fetcher = createRowFetcher({
    request: (params) => rpc.request("unit_maps", params),
    isCached: (key) => app.cache.has(key),
    onRows(job, { result, buffers }) {
      try { remember(app, job.key, decodeUnit(result, buffers)); } catch (err) { return status({ error: err.message }); }
      paintMaps(app, stateOf(model));
    },
    onError: (_job, err) => status({ error: err.message }),
  });
  app.body.filter.addEventListener("change", () => setTrait(model, "category", app.body.filter.value));
  const barOf = (ev) => { const { x, y } = canvasPoint(view.canvas, ev); const n = stateOf(model).bars.length; return barAt(barsLayout(n), n, x, y); };
  view.canvas.addEventListener("mousemove", (ev) => { const i = barOf(ev); if (i !== app.hover) { app.hover = i; paint(app); } });
  view.canvas.addEventListener("mouseleave", () => { if (app.hover >= 0) { app.hover = -1; paint(app); } });
  view.canvas.addEventListener("click", (ev) => { const i = barOf(ev), bars = stateOf(model).bars; if (i >= 0) setTraits(model, { layer: bars[i].layer }); });
  const releaseExport = bindStudyExport(view, rpc, {
    what: "the concept map",
    name: () => `vitwidgets-concepts-${String(model.get("model_name")).replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60)}.png`,
    png: (scale) => exportCanvas(app, scale),
  });
  const repaint = () => paint(app);
  const stopTheme = watchTheme(document, repaint, view.root);
  const off = listen(model, [
    ["change:status change:error", () => status()],
    ["change:_labels change:layer change:unit change:category change:colormap change:done change:categories", repaint],
  ]);
  status();
  paint(app);
  return () => {
    off(); stopTheme(); rpc.dispose(); releaseExport(); app.fetcher.dispose();
    for (const entry of app.cache.values()) entry.urls.forEach((u) => URL.revokeObjectURL(u));
  };
}

export default { render };
