// AttentionExplorer: the image with its patch grid, per-head attention as small multiples and a
// large view of the focused head. Hover is answered here from the selected layer's attention
// (float16 [H, N, N], fetched once per image/layer); the kernel is asked only when the image,
// layer or mode changes. Semantic selection (image_index, layer, head, query) lives in model
// traits; hover, colour map, opacity and log scale are drawn here.

import { colormapLut, colormapCss, COLORMAP_NAMES } from "./colormaps.js";
import { decodeFloat16 } from "./float16.js";
import { gridLayout, fitCell, tokenToPatch } from "./geometry.js";
import { queryRow, keyColumn, scaleValues, argmaxFrom } from "./attention.js";
import { drawBase, paintMap } from "./draw.js";
import { createRpc } from "./rpc.js";
import { h, ensureStyle, bytesToObjectUrl } from "./dom.js";

export const MODES = [
  { id: "row", label: "query → keys", title: "Attention from the hovered query to every key" },
  { id: "column", label: "keys ← all queries", title: "Attention every query pays to the hovered key" },
  { id: "cls", label: "CLS → patches", title: "Attention from the first prefix token (CLS) to every token" },
  { id: "rollout", label: "rollout ≤ layer", title: "Attention rollout (Abnar & Zuidema) of blocks 0..layer, mean of heads; hovered query's row" },
  { id: "aligned", label: "aligned average", title: "Each head's attention averaged over queries after centring every query (Walmer et al.): centre cell = the query itself" },
];

const SMALL_WIDTH = 150; // px available for one head's small map
const FOCUS_WIDTH = 380; // px for the focused head
const CACHE_LAYERS = 12; // decoded layers kept per view (LRU)

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
.vw-explorer .vw-legend { height: 8px; width: 160px; border: 1px solid #888; }
.vw-explorer .vw-status { min-height: 1.4em; margin-top: 4px; }
.vw-explorer .vw-status[data-kind="error"] { color: #b00020; }
.vw-explorer .vw-status button { margin-left: 8px; }
.vw-explorer .vw-strip { display: flex; gap: 4px; margin-bottom: 6px; flex-wrap: wrap; }
.vw-explorer .vw-strip img { height: 48px; border: 2px solid transparent; cursor: pointer; }
.vw-explorer .vw-strip img[data-selected="true"] { border-color: #f0a020; }
`;

function render({ model, el }) {
  ensureStyle("vitwidgets-explorer-style", CSS);
  const rpc = createRpc(model, { timeoutMs: model.get("request_timeout_ms") || 60000 });

  // ---------------------------------------------------------------- view state (not synced)
  let hover = -1; // token under the pointer on a grid canvas
  let alignedHover = -1; // cell under the pointer on an aligned canvas
  let paintCount = 0;
  let imageSource = null; // decoded image (ImageBitmap or canvas)
  const cache = new Map(); // key -> Float32Array, insertion order = recency
  let inflight = null; // {id, key} of the request for the current selection
  const prefetching = new Set();
  let structure = null; // layouts and canvases for the current model shape

  // ---------------------------------------------------------------- DOM
  const root = h("div", { className: "vw-explorer", tabIndex: 0 });
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const layerSlider = h("input", { type: "range", className: "vw-layer-slider", min: 0, step: 1 });
  const layerValue = h("span", { className: "vw-layer-value" });
  const modeBar = h("span", { className: "vw-modes", role: "group" });
  const modeButtons = MODES.map((m) =>
    h("button", { type: "button", textContent: m.label, title: m.title, dataset: { mode: m.id }, onclick: () => setTrait("mode", m.id) }));
  modeButtons.forEach((b) => modeBar.appendChild(b));
  const cmapSelect = h("select", { className: "vw-colormap" });
  for (const name of COLORMAP_NAMES) cmapSelect.appendChild(h("option", { value: name, textContent: name }));
  const opacitySlider = h("input", { type: "range", className: "vw-opacity", min: 0, max: 1, step: 0.05 });
  const logBox = h("input", { type: "checkbox", className: "vw-log" });
  const legend = h("canvas", { className: "vw-legend", width: 160, height: 8 });
  const toolbar = h("div", { className: "vw-toolbar" },
    h("label", { title: "Block (arrow keys change it when the widget has focus)" }, "layer", layerSlider, layerValue),
    modeBar,
    h("label", {}, "colour", cmapSelect),
    h("label", {}, "opacity", opacitySlider),
    h("label", { title: "log10 scale over 3 decades below the maximum" }, logBox, "log"),
    legend,
  );
  const strip = h("div", { className: "vw-strip" });
  const focusTitle = h("div", { className: "vw-focus-title" });
  const focusCanvas = h("canvas", { className: "vw-focus" });
  const readout = h("div", { className: "vw-readout" });
  const focusPanel = h("div", { className: "vw-focus-panel" }, focusTitle, focusCanvas, readout);
  const headsGrid = h("div", { className: "vw-heads" });
  const status = h("div", { className: "vw-status", role: "status" });
  root.append(toolbar, strip, h("div", { className: "vw-body" }, focusPanel, headsGrid), status);
  el.appendChild(root);
  const scratch = document.createElement("canvas");
  const columnBuffer = { values: null };

  // ---------------------------------------------------------------- helpers
  function setTrait(name, value) {
    if (model.get(name) === value) return;
    model.set(name, value);
    model.save_changes();
  }
  const numPrefix = () => (model.get("prefix_names") || []).length;
  const mode = () => model.get("mode");

  function tokenLabel(t) {
    const P = numPrefix();
    if (t < 0) return "—";
    if (t < P) return (model.get("prefix_names")[t] || `prefix ${t}`).toUpperCase();
    const { row, col } = tokenToPatch(t, P, model.get("grid")[1]);
    return `patch (row ${row}, col ${col})`;
  }
  const pct = (v) => `${(100 * v).toFixed(v < 0.001 ? 3 : 1)}%`;

  function buildStructure() {
    const [gh, gw] = model.get("grid");
    const P = numPrefix();
    const H = model.get("num_heads");
    const small = gridLayout({ gh, gw, numPrefix: P, cell: fitCell(gw, P, gh, SMALL_WIDTH) });
    const focus = gridLayout({ gh, gw, numPrefix: P, cell: fitCell(gw, P, gh, FOCUS_WIDTH) });
    const ah = 2 * gh - 1;
    const aw = 2 * gw - 1;
    const alignedSmall = gridLayout({ gh: ah, gw: aw, cell: Math.max(1, Math.floor(small.width / aw)) });
    const alignedFocus = gridLayout({ gh: ah, gw: aw, cell: Math.max(1, Math.floor(focus.width / aw)) });
    headsGrid.replaceChildren();
    headsGrid.style.gridTemplateColumns = `repeat(${Math.ceil(Math.sqrt(H))}, auto)`;
    const heads = [];
    for (let hd = 0; hd < H; hd++) {
      const canvas = h("canvas", { className: "vw-head", dataset: { head: String(hd) } });
      const label = h("span", { className: "vw-head-label" });
      const cell = h("div", { className: "vw-head-cell", dataset: { head: String(hd) }, title: `head ${hd}: click to focus` }, canvas, label);
      cell.addEventListener("click", () => setTrait("head", hd));
      attachPointer(canvas, () => (mode() === "aligned" ? structure.alignedSmall : structure.small));
      headsGrid.appendChild(cell);
      heads.push({ canvas, label, cell });
    }
    const mk = (layout) => {
      const c = document.createElement("canvas");
      c.width = layout.width;
      c.height = layout.height;
      return c;
    };
    structure = { gh, gw, P, H, N: P + gh * gw, small, focus, alignedSmall, alignedFocus, heads, baseSmall: mk(small), baseFocus: mk(focus) };
    drawBases();
  }

  function drawBases() {
    if (!structure) return;
    const labels = (model.get("prefix_names") || []).map((n) => n.toUpperCase());
    drawBase(structure.baseSmall.getContext("2d"), structure.small, imageSource);
    drawBase(structure.baseFocus.getContext("2d"), structure.focus, imageSource, { labels });
  }

  function sizeCanvas(canvas, layout) {
    if (canvas.width !== layout.width) canvas.width = layout.width;
    if (canvas.height !== layout.height) canvas.height = layout.height;
  }

  function attachPointer(canvas, layoutOf) {
    canvas.addEventListener("mousemove", (ev) => {
      const layout = layoutOf();
      const r = canvas.getBoundingClientRect();
      const sx = canvas.width / (r.width || canvas.width);
      const sy = canvas.height / (r.height || canvas.height);
      const t = layout.tokenAt((ev.clientX - r.left) * sx, (ev.clientY - r.top) * sy);
      if (mode() === "aligned") {
        if (t !== alignedHover) { alignedHover = t; root.dataset.hoverCell = String(t); paint(); }
      } else if (t !== hover) {
        hover = t;
        root.dataset.hoverCell = String(t);
        if (model.get("query") < 0) paint();
        else updateReadout();
      }
    });
    canvas.addEventListener("mouseleave", () => {
      if (hover === -1 && alignedHover === -1) return;
      hover = -1;
      alignedHover = -1;
      root.dataset.hoverCell = "-1";
      paint();
    });
  }
  attachPointer(focusCanvas, () => (mode() === "aligned" ? structure.alignedFocus : structure.focus));
  focusCanvas.addEventListener("click", () => {
    if (mode() === "aligned") return;
    const q = model.get("query");
    // click pins the hovered cell; clicking the pinned cell (or outside the cells) unpins
    setTrait("query", hover < 0 || hover === q ? -1 : hover);
  });

  // ---------------------------------------------------------------- data
  const attnKey = (img, layer) => `attn:${img}:${layer}`;
  const extraKey = (img, layer, m) => `${m}:${img}:${layer}`;
  function needsExtra(m) { return m === "rollout" || m === "aligned"; }
  function remember(key, value) {
    cache.delete(key);
    cache.set(key, value);
    while (cache.size > CACHE_LAYERS * 2) cache.delete(cache.keys().next().value);
  }
  function selection() {
    return { image: model.get("image_index"), layer: model.get("layer"), mode: mode() };
  }
  function missing(sel) {
    const need = [];
    if (!cache.has(attnKey(sel.image, sel.layer))) need.push("attention");
    if (needsExtra(sel.mode) && !cache.has(extraKey(sel.image, sel.layer, sel.mode))) need.push(sel.mode);
    return need;
  }

  function store(sel, result, buffers) {
    let b = 0;
    if (result.attention_shape) remember(attnKey(sel.image, sel.layer), decodeFloat16(buffers[b++]));
    if (result.extra_shape) remember(extraKey(sel.image, sel.layer, result.extra_mode), decodeFloat16(buffers[b++]));
  }

  function ensureData() {
    const sel = selection();
    const need = missing(sel);
    const key = `${sel.image}:${sel.layer}:${sel.mode}`;
    if (need.length === 0) {
      if (inflight) { rpc.cancel(inflight.id); inflight = null; }
      setStatus(null);
      paint();
      prefetchNeighbours(sel);
      return;
    }
    if (inflight && inflight.key === key) return;
    if (inflight) rpc.cancel(inflight.id);
    root.dataset.ready = "false";
    root.dataset.loading = "true";
    setStatus("info", `loading layer ${sel.layer}${needsExtra(sel.mode) ? ` (${sel.mode})` : ""}…`);
    const { id, promise } = rpc.request("layer_data", { image: sel.image, layer: sel.layer, mode: sel.mode, include: need });
    inflight = { id, key };
    promise.then(({ result, buffers }) => {
      store(sel, result, buffers);
      if (inflight && inflight.id === id) {
        inflight = null;
        ensureData();
      }
    }, (err) => {
      if (err.cancelled) return;
      if (inflight && inflight.id === id) {
        inflight = null;
        root.dataset.loading = "false";
        setStatus("error", err.message, true);
      }
    });
  }

  function prefetchNeighbours(sel) {
    const L = model.get("num_layers");
    for (const layer of [sel.layer + 1, sel.layer - 1]) {
      const key = attnKey(sel.image, layer);
      if (layer < 0 || layer >= L || cache.has(key) || prefetching.has(key)) continue;
      prefetching.add(key);
      rpc.request("layer_data", { image: sel.image, layer, mode: "row", include: ["attention"] }).promise
        .then(({ result, buffers }) => store({ image: sel.image, layer }, result, buffers), () => {})
        .finally(() => prefetching.delete(key));
    }
  }

  function setStatus(kind, text, retry = false) {
    status.replaceChildren();
    status.dataset.kind = kind || "";
    root.dataset.error = kind === "error" ? text : "";
    if (!kind) return;
    status.appendChild(h("span", { className: "vw-status-text", textContent: text }));
    if (retry) status.appendChild(h("button", { type: "button", className: "vw-retry", textContent: "retry", onclick: () => { setStatus(null); ensureData(); } }));
  }

  // ---------------------------------------------------------------- painting
  /** The query token drawn: the pinned one, else the hovered one, else CLS (or the centre patch). */
  function shownQuery() {
    const pinned = model.get("query");
    if (pinned >= 0 && pinned < structure.N) return pinned;
    if (hover >= 0) return hover;
    if (structure.P > 0) return 0;
    return structure.P + Math.floor(structure.gh / 2) * structure.gw + Math.floor(structure.gw / 2);
  }

  /** Values per token for head hd in the current mode, from this layer's attention. */
  function layerValues(attn, hd, q) {
    const { N } = structure;
    const m = mode();
    if (m === "column") {
      if (!columnBuffer.values || columnBuffer.values.length !== N) columnBuffer.values = new Float32Array(N);
      return keyColumn(attn, N, hd, q, columnBuffer.values);
    }
    return queryRow(attn, N, hd, m === "cls" ? 0 : q);
  }

  function marksFor(q) {
    const pinned = model.get("query");
    const marks = [];
    if (mode() === "cls") marks.push({ token: 0, color: "#ffffff" });
    else if (q >= 0) marks.push({ token: q, color: pinned >= 0 ? "#ff9800" : "#ffffff" });
    return marks;
  }

  function paint() {
    if (!structure) return;
    const sel = selection();
    const attn = cache.get(attnKey(sel.image, sel.layer));
    const extra = needsExtra(sel.mode) ? cache.get(extraKey(sel.image, sel.layer, sel.mode)) : null;
    if (!attn || (needsExtra(sel.mode) && !extra)) return;
    const t0 = performance.now();
    const lut = colormapLut(model.get("colormap"));
    const opacity = model.get("opacity");
    const logScale = model.get("log_scale");
    const focusHead = Math.min(model.get("head"), structure.H - 1);
    const q = shownQuery();
    const scaled = new Float32Array(Math.max(structure.N, (2 * structure.gh - 1) * (2 * structure.gw - 1)));
    if (sel.mode === "aligned") {
      const A = structure.alignedSmall.numTokens;
      const centre = (structure.gh - 1) * (2 * structure.gw - 1) + (structure.gw - 1);
      // thin outlines: the centre (the query itself) in the large view, the hovered offset
      const draw = (canvas, layout, hd, isFocus) => {
        sizeCanvas(canvas, layout);
        const { t } = scaleValues(extra.subarray(hd * A, (hd + 1) * A), 0, { logScale, out: scaled.subarray(0, A) });
        const marks = isFocus ? [{ token: centre, color: "#ffffff", lineWidth: 1 }] : [];
        if (alignedHover >= 0) marks.push({ token: alignedHover, color: "#ff9800", lineWidth: 1 });
        paintMap(canvas.getContext("2d"), layout, t, { lut, opacity: 1, base: null, scratch, marks });
      };
      structure.heads.forEach((s, hd) => draw(s.canvas, structure.alignedSmall, hd, false));
      draw(focusCanvas, structure.alignedFocus, focusHead, true);
    } else {
      const marks = marksFor(q);
      structure.heads.forEach((s, hd) => {
        sizeCanvas(s.canvas, structure.small);
        const { t } = scaleValues(layerValues(attn, hd, q), structure.P, { logScale, out: scaled.subarray(0, structure.N) });
        paintMap(s.canvas.getContext("2d"), structure.small, t, { lut, opacity, base: structure.baseSmall, scratch, marks });
      });
      const focusValues = sel.mode === "rollout" ? queryRow(extra, structure.N, 0, q) : layerValues(attn, focusHead, q);
      const { t } = scaleValues(focusValues, structure.P, { logScale, out: scaled.subarray(0, structure.N) });
      sizeCanvas(focusCanvas, structure.focus);
      paintMap(focusCanvas.getContext("2d"), structure.focus, t, { lut, opacity, base: structure.baseFocus, scratch, marks });
    }
    paintCount += 1;
    updateLabels();
    updateReadout();
    Object.assign(root.dataset, {
      ready: "true", loading: "false", paintCount: String(paintCount),
      lastPaintMs: (performance.now() - t0).toFixed(2), query: String(sel.mode === "cls" ? 0 : q),
    });
  }

  function updateLabels() {
    const layer = model.get("layer");
    const tags = model.get("head_tags") || {};
    const focusHead = model.get("head");
    structure.heads.forEach((s, hd) => {
      const tag = tags[`${layer}:${hd}`];
      s.label.textContent = tag ? `head ${hd} · ${tag}` : `head ${hd}`;
      s.cell.dataset.focused = String(hd === focusHead);
    });
    const m = MODES.find((x) => x.id === mode());
    const tag = tags[`${layer}:${focusHead}`];
    focusTitle.textContent = mode() === "rollout"
      ? `rollout of blocks 0–${layer} (mean of heads)`
      : `layer ${layer} · head ${focusHead}${tag ? ` · ${tag}` : ""} · ${m ? m.label : mode()}`;
  }

  function updateReadout() {
    if (!structure) return;
    const sel = selection();
    const attn = cache.get(attnKey(sel.image, sel.layer));
    if (!attn) { readout.textContent = ""; return; }
    const hd = Math.min(model.get("head"), structure.H - 1);
    const { P, N, gw, gh } = structure;
    const pinned = model.get("query") >= 0;
    let text;
    if (sel.mode === "aligned") {
      const extra = cache.get(extraKey(sel.image, sel.layer, "aligned"));
      const aw = 2 * gw - 1;
      const A = (2 * gh - 1) * aw;
      const canvas = extra ? extra.subarray(hd * A, (hd + 1) * A) : null;
      if (alignedHover >= 0 && canvas) {
        const dy = Math.floor(alignedHover / aw) - (gh - 1);
        const dx = (alignedHover % aw) - (gw - 1);
        text = `offset (dy ${dy}, dx ${dx}) patches from the query: ${pct(canvas[alignedHover])} of head ${hd}'s attention on average`;
      } else {
        text = "centre cell = the query itself; hover a cell to read its offset and share";
      }
    } else {
      const q = sel.mode === "cls" ? 0 : shownQuery();
      const values = sel.mode === "rollout" ? queryRow(cache.get(extraKey(sel.image, sel.layer, "rollout")), N, 0, q) : layerValues(attn, hd, q);
      let prefix = 0;
      for (let i = 0; i < P; i++) prefix += values[i];
      const best = argmaxFrom(values, P);
      if (sel.mode === "column") {
        let sum = 0;
        for (let i = P; i < N; i++) sum += values[i];
        text = `key ${tokenLabel(q)}: receives ${pct(sum / (N - P))} of each patch query's attention on average; most from ${tokenLabel(best)} (${pct(values[best])})`;
      } else {
        text = `${pinned && sel.mode !== "cls" ? "pinned " : ""}query ${tokenLabel(q)} → strongest key among patches: ${tokenLabel(best)} (${pct(values[best])})` +
          (P > 0 ? `; prefix tokens get ${pct(prefix)}` : "");
        if (hover >= 0 && hover !== q) text += `; under the pointer ${tokenLabel(hover)}: ${pct(values[hover])}`;
      }
    }
    readout.textContent = text;
  }

  function drawLegend() {
    const ctx = legend.getContext("2d");
    for (let x = 0; x < legend.width; x++) {
      ctx.fillStyle = colormapCss(model.get("colormap"), x / (legend.width - 1));
      ctx.fillRect(x, 0, 1, legend.height);
    }
    legend.title = model.get("log_scale") ? "0 = 1/1000 of the maximum (log), 1 = the maximum patch value" : "0 .. the maximum patch value of each map";
  }

  // ---------------------------------------------------------------- image and strip
  let decodeToken = 0;
  async function decodeImage() {
    const data = model.get("_image");
    const token = ++decodeToken;
    if (!data || data.byteLength === 0) { imageSource = null; drawBases(); paint(); return; }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let source;
    try {
      source = await createImageBitmap(new Blob([bytes], { type: model.get("_image_format") || "image/png" }));
    } catch (err) {
      setStatus("error", `could not decode the image: ${err.message}`);
      return;
    }
    if (token !== decodeToken) return;
    imageSource = source;
    drawBases();
    paint();
  }

  let stripUrls = [];
  function renderStrip() {
    stripUrls.forEach((u) => URL.revokeObjectURL(u));
    stripUrls = [];
    strip.replaceChildren();
    const thumbs = model.get("_thumbnails") || [];
    strip.style.display = thumbs.length > 1 ? "flex" : "none";
    thumbs.forEach((data, i) => {
      const url = bytesToObjectUrl(data, model.get("_image_format") || "image/png");
      stripUrls.push(url);
      const img = h("img", { src: url, alt: `image ${i}`, title: `image ${i}`, dataset: { image: String(i) } });
      img.addEventListener("click", () => setTrait("image_index", i));
      strip.appendChild(img);
    });
    markStrip();
  }
  function markStrip() {
    const current = model.get("image_index");
    for (const img of strip.children) img.dataset.selected = String(Number(img.dataset.image) === current);
  }

  // ---------------------------------------------------------------- controls and sync
  function syncControls() {
    const L = model.get("num_layers");
    layerSlider.max = String(Math.max(0, L - 1));
    layerSlider.value = String(model.get("layer"));
    layerValue.textContent = `${model.get("layer")} / ${L - 1}`;
    for (const b of modeButtons) {
      b.setAttribute("aria-pressed", String(b.dataset.mode === mode()));
      b.disabled = b.dataset.mode === "cls" && numPrefix() === 0; // no CLS token to start from
    }
    cmapSelect.value = model.get("colormap");
    opacitySlider.value = String(model.get("opacity"));
    logBox.checked = !!model.get("log_scale");
    Object.assign(root.dataset, {
      layer: String(model.get("layer")), head: String(model.get("head")), mode: mode(),
      image: String(model.get("image_index")), pinned: String(model.get("query") >= 0),
      colormap: model.get("colormap"), logScale: String(!!model.get("log_scale")),
    });
    drawLegend();
  }

  layerSlider.addEventListener("input", () => setTrait("layer", Number(layerSlider.value)));
  cmapSelect.addEventListener("change", () => setTrait("colormap", cmapSelect.value));
  opacitySlider.addEventListener("input", () => setTrait("opacity", Number(opacitySlider.value)));
  logBox.addEventListener("change", () => setTrait("log_scale", logBox.checked));
  root.addEventListener("keydown", (ev) => {
    if (ev.target !== root && ev.target.tagName !== "CANVAS") return; // leave form controls alone
    const L = model.get("num_layers");
    const H = model.get("num_heads");
    const layer = model.get("layer");
    let handled = true;
    if (ev.key === "ArrowRight" || ev.key === "ArrowUp") setTrait("layer", Math.min(L - 1, layer + 1));
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowDown") setTrait("layer", Math.max(0, layer - 1));
    else if (ev.key === "]") setTrait("head", (model.get("head") + 1) % H);
    else if (ev.key === "[") setTrait("head", (model.get("head") + H - 1) % H);
    else if (ev.key === "Escape") setTrait("query", -1);
    else handled = false;
    if (handled) { ev.preventDefault(); ev.stopPropagation(); }
  });
  // focus the widget on pointer entry so arrow keys work without an extra click
  root.addEventListener("mousedown", (ev) => { if (ev.target.tagName === "CANVAS") root.focus({ preventScroll: true }); });

  const listeners = [
    ["change:layer change:image_index change:mode", () => { syncControls(); markStrip(); ensureData(); }],
    ["change:head change:query change:colormap change:opacity change:log_scale change:head_tags", () => { syncControls(); paint(); }],
    ["change:_image change:_image_format", () => decodeImage()],
    ["change:_thumbnails", () => renderStrip()],
    ["change:grid change:num_heads change:prefix_names change:num_layers change:model_name change:_session_version", () => {
      cache.clear();
      buildStructure();
      syncControls();
      ensureData();
    }],
  ];
  for (const [events, fn] of listeners) model.on(events, fn);

  buildStructure();
  syncControls();
  renderStrip();
  root.dataset.hoverCell = "-1";
  root.dataset.ready = "false";
  decodeImage();
  ensureData();

  return () => {
    for (const [events, fn] of listeners) model.off(events, fn);
    rpc.dispose();
    stripUrls.forEach((u) => URL.revokeObjectURL(u));
  };
}

export default { render };
