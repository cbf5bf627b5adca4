// Painting the explorer: every head's small map, the large focused map, their labels, the
// readout and the colour legend, from the cached entries of the current selection (in any
// form: dense attention, q/k/lse, or rows the kernel answers on hover; see layervalues.js).
//
// `app` (built in index.js) holds: model, view (from view.js), cache, structure (layouts plus
// head cells and base canvases, from view.js buildStructure), values (createLayerValues),
// rows (createKernelRows: the kernel's rows and the fetcher asking for them), hover (token
// under the pointer, -1 for none), alignedHover (cell of the aligned canvas, -1), paintCount,
// image (decoded image or null), scratch (a canvas).

import { colormapLut, colormapCss } from "../colormaps.js";
import { scaleValues } from "../attention.js";
import { headsKind, valuesToken } from "./layervalues.js";
import { drawBase, paintMap, drawAlignedAxes } from "../draw.js";
import { headKey } from "../model.js";
import { selectionOf, cachedParts } from "./state.js";
import { tokenReadout, alignedReadout, tokenLabel, headLabelText, focusTitleText, headsCaptionText, alignedAxesText, pct } from "./readout.js";
import { DECADES, mapMax, mapScales, ownScale, legendText } from "./scale.js";
import { showLegend } from "./view.js";

const WHITE = "#ffffff";
const ORANGE = "#ff9800";

/**
 * The query token drawn: the pinned one, else the hovered one, else CLS (or the centre patch
 * when there is no prefix token).
 * @param {{N, P, gh, gw}} s token counts and grid of the model
 */
export function shownQuery({ N, P, gh, gw }, pinned, hover) {
  if (pinned >= 0 && pinned < N) return pinned;
  if (hover >= 0) return hover;
  if (P > 0) return 0;
  return P + Math.floor(gh / 2) * gw + Math.floor(gw / 2);
}

/** Outlined cells of a token map: CLS in cls mode, else the query (orange when pinned). */
export function queryMarks(mode, q, pinned) {
  if (mode === "cls") return [{ token: 0, color: WHITE }];
  return q >= 0 ? [{ token: q, color: pinned ? ORANGE : WHITE }] : [];
}

/** Outlined cells of an aligned map: the centre (the query) in the large view, the hovered offset. */
export function alignedMarks(centre, hover, isFocus) {
  const marks = isFocus ? [{ token: centre, color: WHITE, lineWidth: 1 }] : [];
  if (hover >= 0) marks.push({ token: hover, color: ORANGE, lineWidth: 1 });
  return marks;
}

/** Resize a canvas to a layout (only when it differs: resizing clears it). */
export function sizeCanvas(canvas, layout) {
  if (canvas.width !== layout.width) canvas.width = layout.width;
  if (canvas.height !== layout.height) canvas.height = layout.height;
}

/**
 * Draw one map of `values` on a canvas: scaled to [0, 1] with paint.vmax at the top (see
 * scaleValues), then painted; the canvas's data-vmax holds that top.
 */
function drawValues(app, o, canvas, layout, values, paint) {
  sizeCanvas(canvas, layout);
  const n = values.length;
  const { t } = scaleValues(values, paint.numPrefix, { logScale: o.logScale, decades: DECADES, out: o.scaled.subarray(0, n), vmax: paint.vmax });
  const ctx = canvas.getContext("2d");
  paintMap(ctx, layout, t, {
    lut: o.lut, opacity: paint.opacity, base: paint.base, scratch: app.scratch, marks: paint.marks, gridLines: o.gridLines, contour: o.contour,
  });
  if (paint.axes) drawAlignedAxes(ctx, layout);
  canvas.dataset.vmax = String(paint.vmax);
}

/** Each head's top colour value and the large view's, on o.scale, of H maps of which the large view shows focusHead's. */
export function headScales(scale, heads, numPrefix, focusHead) {
  const vmax = mapScales(scale, heads.map((v) => mapMax(v, numPrefix)));
  return { heads: vmax, focus: vmax[focusHead] };
}

/** @returns {number} the large view's top colour value */
function paintAligned(app, aligned, o) {
  const s = app.structure;
  const A = s.aligned.cells;
  const maps = s.heads.map((_, hd) => aligned.subarray(hd * A, (hd + 1) * A));
  const vmax = headScales(o.scale, maps, 0, o.focusHead);
  const one = (canvas, layout, hd, isFocus) => drawValues(app, o, canvas, layout, maps[hd],
    { numPrefix: 0, opacity: 1, base: null, marks: alignedMarks(s.aligned.centre, app.alignedHover, isFocus), vmax: vmax.heads[hd], axes: isFocus });
  s.heads.forEach((c, hd) => one(c.canvas, s.alignedSmall, hd, false));
  one(app.view.focusCanvas, s.alignedFocus, o.focusHead, true);
  return vmax.focus;
}

/**
 * The layer source (layervalues.js) of sel: its cached attention and rollout entries (null
 * while missing) and the kernel's rows of sel's image and layer.
 */
export function layerSource(app, sel) {
  const { attention, extra } = cachedParts(app.cache, sel);
  const { H, N } = app.structure;
  const kernelRows = (kind, token) => app.rows.get(kind, sel.image, sel.layer, token);
  return { attention, rollout: sel.mode === "rollout" ? extra : null, H, N, kernelRows };
}

/**
 * Values of a token mode's maps for query q: heads (one per head, [N] each), focus (the large
 * view's) and missing ({kind, token} the kernel must be asked for; empty when all are there).
 */
export function tokenValues(app, sel, q, focusHead) {
  const src = layerSource(app, sel);
  const kind = headsKind(sel.mode);
  const token = valuesToken(sel.mode, q);
  const heads = app.structure.heads.map((_, hd) => app.values.values(src, kind, hd, token));
  const focus = sel.mode === "rollout" ? app.values.values(src, "rollout", 0, q) : heads[focusHead];
  const missing = heads.every(Boolean) ? [] : [{ kind, token }];
  if (!focus && sel.mode === "rollout") missing.push({ kind: "rollout", token: q });
  return { heads, focus, missing };
}

/**
 * The maps of a token mode; the rollout (large view in rollout mode) is scaled on its own.
 * @returns {number} the large view's top colour value
 */
function paintTokens(app, vals, mode, q, o) {
  const s = app.structure;
  const marks = queryMarks(mode, q, app.model.get("query") >= 0);
  const look = { numPrefix: s.P, opacity: o.opacity, marks };
  const vmax = headScales(o.scale, vals.heads, s.P, o.focusHead);
  const focusMax = mode === "rollout" ? ownScale(o.scale, mapMax(vals.focus, s.P)) : vmax.focus;
  s.heads.forEach((c, hd) => drawValues(app, o, c.canvas, s.small, vals.heads[hd], { ...look, base: s.baseSmall, vmax: vmax.heads[hd] }));
  drawValues(app, o, app.view.focusCanvas, s.focus, vals.focus, { ...look, base: s.baseFocus, vmax: focusMax });
  return focusMax;
}

/**
 * What sel's maps need: {aligned} in aligned mode, else tokenValues; null while the aligned
 * entry is missing or the kernel must be asked (then it is asked: app.rows.want).
 */
function mapsOf(app, sel, q, focusHead) {
  if (sel.mode === "aligned") {
    const { extra } = cachedParts(app.cache, sel);
    return extra ? { aligned: extra.aligned } : null;
  }
  const vals = tokenValues(app, sel, q, focusHead);
  for (const { kind, token } of vals.missing) app.rows.want(kind, sel.image, sel.layer, token);
  return vals.missing.length ? null : vals;
}

/**
 * Repaint every map of the current selection (nothing while its data is missing: rows the
 * kernel must answer are asked for, and paint runs again when they arrive), then the labels
 * and the readout; sets the root's ready, paintCount, lastPaintMs (ms), query and
 * attentionForm attributes.
 * @returns {boolean} whether it painted
 */
export function paint(app) {
  const s = app.structure;
  if (!s) return false;
  const { model } = app;
  const sel = selectionOf(model);
  const entry = cachedParts(app.cache, sel).attention;
  if (entry) app.view.root.dataset.attentionForm = entry.form;
  const t0 = performance.now();
  const focusHead = Math.min(model.get("head"), s.H - 1);
  const q = shownQuery(s, model.get("query"), app.hover);
  const maps = mapsOf(app, sel, q, focusHead);
  if (!maps) return false;
  const o = {
    lut: colormapLut(model.get("colormap")), opacity: model.get("opacity"), logScale: model.get("log_scale"),
    focusHead, scaled: new Float32Array(Math.max(s.N, s.aligned.cells)),
    scale: model.get("scale") ?? "map", gridLines: !!model.get("grid_lines"), contour: model.get("contour") ?? 0,
  };
  const focusMax = maps.aligned ? paintAligned(app, maps.aligned, o) : paintTokens(app, maps, sel.mode, q, o);
  app.paintCount += 1;
  const rollout = sel.mode === "rollout";
  const what = rollout ? `the rollout to layer ${sel.layer}` : `head ${focusHead}'s map (large view)`;
  const scale = rollout && o.scale === "layer" ? "map" : o.scale; // the rollout keeps its own top
  showLegend(app.view, legendText({ vmax: focusMax, logScale: o.logScale, scale, what }), focusMax);
  updateLabels(app);
  updateReadout(app);
  Object.assign(app.view.root.dataset, {
    ready: "true", paintCount: String(app.paintCount),
    lastPaintMs: (performance.now() - t0).toFixed(2), query: String(valuesToken(sel.mode, q)),
  });
  return true;
}

/**
 * Head labels (with their tags from `head_tags`, and each map's top value in their tooltip),
 * the focused cell, the captions saying what the maps show and the focus title.
 */
export function updateLabels(app) {
  const { model, structure: s, view } = app;
  const layer = model.get("layer");
  const mode = model.get("mode");
  const modes = model.get("_modes");
  const tags = model.get("head_tags") || {};
  const head = model.get("head");
  s.heads.forEach((c, hd) => {
    c.label.textContent = headLabelText(hd, tags[headKey(layer, hd)], mode);
    c.cell.dataset.focused = String(hd === head);
    const vmax = Number(c.canvas.dataset.vmax);
    c.cell.title = `head ${hd}: click to focus${vmax > 0 ? `; brightest colour = ${pct(vmax)}` : ""}`;
  });
  view.headsCaption.textContent = headsCaptionText({ mode, layer, modes });
  view.focusCaption.textContent = mode === "aligned" ? alignedAxesText(s.aligned) : "";
  view.focusTitle.textContent = focusTitleText({ mode, layer, head, tag: tags[headKey(layer, head)], modes });
}

function readoutText(app, sel) {
  const { model, structure: s } = app;
  const hd = Math.min(model.get("head"), s.H - 1);
  if (sel.mode === "aligned") {
    const { extra } = cachedParts(app.cache, sel);
    const A = s.aligned.cells;
    return alignedReadout({ grid: s.aligned, cell: app.alignedHover, values: extra ? extra.aligned.subarray(hd * A, (hd + 1) * A) : null, head: hd });
  }
  const q = valuesToken(sel.mode, shownQuery(s, model.get("query"), app.hover));
  const vals = tokenValues(app, sel, q, hd);
  if (!vals.focus) return "";
  const prefixNames = model.get("prefix_names") || [];
  const label = (t) => tokenLabel(t, prefixNames, model.get("grid")[1]);
  return tokenReadout({ mode: sel.mode, values: vals.focus, numPrefix: s.P, query: q, hover: app.hover, pinned: model.get("query") >= 0, label });
}

/** The text under the large view, for the current selection, query and pointer. */
export function updateReadout(app) {
  if (!app.structure) return;
  app.view.readout.textContent = readoutText(app, selectionOf(app.model));
}

/** Backgrounds reused on every repaint: the image (dimmed by `dim`) under the patch grids, prefix cells (named in the large view). */
export function drawBases(app) {
  const s = app.structure;
  if (!s) return;
  const labels = (app.model.get("prefix_names") || []).map((n) => n.toUpperCase());
  const dim = app.model.get("dim") ?? 0;
  drawBase(s.baseSmall.getContext("2d"), s.small, app.image, { dim });
  drawBase(s.baseFocus.getContext("2d"), s.focus, app.image, { labels, dim });
}

/** The colour bar of a colour map (0 at the left), with a title saying what its ends mean. */
export function drawLegend(legend, colormap, logScale) {
  const ctx = legend.getContext("2d");
  for (let x = 0; x < legend.width; x++) {
    ctx.fillStyle = colormapCss(colormap, x / (legend.width - 1));
    ctx.fillRect(x, 0, 1, legend.height);
  }
  legend.title = logScale ? "0 = 1/1000 of the maximum (log), 1 = the maximum patch value" : "0 .. the maximum patch value of each map";
}
