// Small canvas charts shared by the study views (RepresentationMap, DepthProfile, and any view
// that needs axes, lines, markers or a heat map): linear scales with round ticks, theme colours
// read from the page, and drawing into any CanvasRenderingContext2D-like object (a browser
// canvas, @napi-rs/canvas in tests). Frames are {x, y, w, h} in canvas px.

import { colormapLut, lutIndex } from "./colormaps.js";

/** Colour-blind-safe series colours (Okabe & Ito 2008), one per model. */
export const SERIES_COLOURS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442"];
/** The selection's colour in every vitwidgets view (the explorer's focus outline). */
export const SELECT_COLOUR = "#f0a020";
export const FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', sans-serif";
/** Colours of a chart on a white page (and of every PNG export, whatever the theme). */
export const LIGHT = { ink: "#222222", muted: "#666666", grid: "rgba(0, 0, 0, 0.10)", background: "#ffffff", dark: false };
/** Colours of a chart on a dark page. */
export const DARK = { ink: "#e6e6e6", muted: "#a8a8a8", grid: "rgba(255, 255, 255, 0.14)", background: "#111111", dark: true };

/** [r, g, b] of a CSS colour "rgb(...)", "rgba(...)" or "#rrggbb"; null when unreadable. */
export function parseColour(css) {
  const s = String(css ?? "").trim();
  const rgb = s.match(/^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/);
  if (rgb) return rgb.slice(1, 4).map(Number);
  const hex = s.match(/^#([0-9a-f]{6})$/i);
  if (hex) { const v = parseInt(hex[1], 16); return [(v >> 16) & 255, (v >> 8) & 255, v & 255]; }
  return null;
}

/**
 * The chart colours for the page around `el`: DARK when its text colour is light (JupyterLab's
 * dark theme sets it through --jp-ui-font-color1, other hosts through their own CSS), else
 * LIGHT; `ink` is the text colour itself when it can be read.
 */
export function themeOf(el) {
  const win = el?.ownerDocument?.defaultView;
  const colour = win ? win.getComputedStyle(el).color : "";
  const rgb = parseColour(colour);
  if (!rgb) return LIGHT;
  const luminance = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255;
  return luminance > 0.5 ? { ...DARK, ink: colour } : { ...LIGHT, ink: colour };
}

/** A linear map of domain [d0, d1] onto range [r0, r1] (a flat domain maps to r0). */
export function linearScale([d0, d1], [r0, r1]) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return { domain: [d0, d1], range: [r0, r1], map: (v) => r0 + (v - d0) * k, invert: (p) => (k ? d0 + (p - r0) / k : d0) };
}

/** [min, max] of the finite numbers of value lists; a flat or empty extent is widened to show. */
export function extent(...lists) {
  let lo = Infinity, hi = -Infinity;
  for (const list of lists) for (const v of list ?? []) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (lo > hi) return [0, 1];
  if (lo === hi) { const d = Math.abs(lo) * 0.1 || 0.5; return [lo - d, hi + d]; }
  return [lo, hi];
}

/** Round step (1, 2 or 5 times a power of ten) giving about `count` ticks over [lo, hi]. */
export function tickStep(lo, hi, count = 5) {
  const raw = Math.abs(hi - lo) / Math.max(1, count);
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

/** Ticks at multiples of tickStep inside [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  const step = tickStep(lo, hi, count);
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** A tick's text with as many decimals as the step needs. */
export function formatTick(v, step) {
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

/** Integer ticks (block numbers) inside [lo, hi], at most about `count`. */
export function integerTicks(lo, hi, count = 8) {
  const step = Math.max(1, Math.ceil((hi - lo) / Math.max(1, count)));
  const out = [];
  for (let v = Math.ceil(lo); v <= hi; v += step) out.push(v);
  return out;
}

/** Index of the entry of xs nearest to x (-1 for an empty list; ties go to the later one). */
export function nearestIndex(xs, x) {
  let best = -1, dist = Infinity;
  xs.forEach((v, i) => { const d = Math.abs(v - x); if (d <= dist) { dist = d; best = i; } });
  return best;
}

function text(ctx, s, x, y, { align = "left", baseline = "alphabetic", colour, size = 11, bold = false } = {}) {
  ctx.font = `${bold ? "600 " : ""}${size}px ${FONT_FAMILY}`;
  ctx.textAlign = align;
  ctx.textBaseline = baseline;
  if (colour) ctx.fillStyle = colour;
  ctx.fillText(s, x, y);
}

/**
 * Axes around a frame: outline, horizontal grid lines at the y ticks (unless o.grid is false),
 * tick labels, axis labels.
 * @param o.xTicks, o.yTicks tick values; o.xFormat, o.yFormat their text
 */
export function drawAxes(ctx, frame, xs, ys, { theme = LIGHT, xTicks = [], yTicks = [], xFormat = String, yFormat = String, xLabel = "", yLabel = "", grid = true } = {}) {
  const { x, y, w, h } = frame;
  ctx.save();
  ctx.lineWidth = 1;
  ctx.strokeStyle = theme.grid;
  for (const t of grid ? yTicks : []) { const py = Math.round(ys.map(t)) + 0.5; ctx.beginPath(); ctx.moveTo(x, py); ctx.lineTo(x + w, py); ctx.stroke(); }
  ctx.strokeStyle = theme.muted;
  ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
  for (const t of xTicks) text(ctx, xFormat(t), xs.map(t), y + h + 3, { align: "center", baseline: "top", colour: theme.muted, size: 10 });
  for (const t of yTicks) text(ctx, yFormat(t), x - 4, ys.map(t), { align: "right", baseline: "middle", colour: theme.muted, size: 10 });
  if (xLabel) text(ctx, xLabel, x + w / 2, y + h + 16, { align: "center", baseline: "top", colour: theme.ink });
  if (yLabel) {
    ctx.translate(x - 40, y + h / 2);
    ctx.rotate(-Math.PI / 2);
    text(ctx, yLabel, 0, 0, { align: "center", baseline: "middle", colour: theme.ink });
  }
  ctx.restore();
}

/** A text label (exported for the views' titles and legends). */
export function drawText(ctx, s, x, y, o = {}) {
  text(ctx, s, x, y, o);
}

/** A polyline through [x, y] points (canvas px); non-finite points break it. */
export function drawLine(ctx, points, colour, { width = 1.5, dash = [] } = {}) {
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.setLineDash(dash);
  ctx.beginPath();
  let pen = false;
  for (const [px, py] of points) {
    if (!Number.isFinite(px) || !Number.isFinite(py)) { pen = false; continue; }
    if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    pen = true;
  }
  ctx.stroke();
  ctx.restore();
}

/** A marker centred on (x, y): "circle" (filled), "square" (open), "diamond", "ring" or "star". */
export function drawMarker(ctx, x, y, shape, colour, size = 6, background = "#ffffff") {
  const r = size / 2;
  ctx.save();
  ctx.fillStyle = colour;
  ctx.strokeStyle = colour;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  if (shape === "square") {
    ctx.fillStyle = background;
    ctx.rect(x - r, y - r, size, size);
    ctx.fill();
  } else if (shape === "diamond") {
    ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath(); ctx.fill();
  } else if (shape === "star") {
    for (let i = 0; i < 10; i++) { const a = -Math.PI / 2 + (i * Math.PI) / 5, rr = i % 2 ? r * 0.45 : r; ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a)); }
    ctx.closePath(); ctx.fill();
  } else {
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    if (shape !== "ring") ctx.fill();
  }
  ctx.stroke();
  ctx.restore();
}

/** A vertical line at x across a frame (the selected depth). */
export function drawVertical(ctx, frame, x, colour, { width = 2, dash = [4, 3] } = {}) {
  drawLine(ctx, [[x, frame.y], [x, frame.y + frame.h]], colour, { width, dash });
}

/**
 * The cell of a rows x cols heat map in `frame` under canvas pixel (px, py), row 0 at the
 * bottom (as matrices of layers are drawn: the first layers at the origin); null outside.
 */
export function cellAt(frame, rows, cols, px, py) {
  const c = Math.floor(((px - frame.x) / frame.w) * cols);
  const rFromTop = Math.floor(((py - frame.y) / frame.h) * rows);
  if (c < 0 || c >= cols || rFromTop < 0 || rFromTop >= rows || px < frame.x || py < frame.y) return null;
  return { row: rows - 1 - rFromTop, col: c };
}

/** Canvas rectangle {x, y, w, h} of cell (row, col) of a heat map (row 0 at the bottom). */
export function cellRect(frame, rows, cols, row, col) {
  const w = frame.w / cols, h = frame.h / rows;
  return { x: frame.x + col * w, y: frame.y + (rows - 1 - row) * h, w, h };
}

/** [r, g, b] of value v on a colour map spanning [lo, hi] (clamped; NaN gives null). */
export function valueColour(lut, v, lo, hi) {
  if (!Number.isFinite(v)) return null;
  const i = lutIndex(hi > lo ? (v - lo) / (hi - lo) : 0) * 3;
  return [lut[i], lut[i + 1], lut[i + 2]];
}

/**
 * A heat map of values (row-major rows x cols, row 0 drawn at the bottom) in a frame, on the
 * colour map `colormap` over [lo, hi]; non-finite values (not computed yet) are left to `empty`.
 */
export function drawHeatmap(ctx, frame, values, rows, cols, { colormap = "viridis", lo = 0, hi = 1, empty = "rgba(128, 128, 128, 0.25)" } = {}) {
  const lut = colormapLut(colormap);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const rgb = valueColour(lut, values[r * cols + c], lo, hi);
      const cell = cellRect(frame, rows, cols, r, c);
      ctx.fillStyle = rgb ? `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})` : empty;
      // whole pixels (no seams between cells)
      const x0 = Math.round(cell.x), y0 = Math.round(cell.y);
      ctx.fillRect(x0, y0, Math.round(cell.x + cell.w) - x0, Math.round(cell.y + cell.h) - y0);
    }
  }
}

/** A vertical colour bar of a colour map in a frame (top = hi), labelled lo and hi. */
export function drawColourBar(ctx, frame, colormap, lo, hi, theme = LIGHT, format = (v) => v.toFixed(1)) {
  const lut = colormapLut(colormap);
  for (let y = 0; y < frame.h; y++) {
    const i = lutIndex(1 - y / Math.max(1, frame.h - 1)) * 3;
    ctx.fillStyle = `rgb(${lut[i]}, ${lut[i + 1]}, ${lut[i + 2]})`;
    ctx.fillRect(frame.x, frame.y + y, frame.w, 1);
  }
  ctx.strokeStyle = theme.muted;
  ctx.lineWidth = 1;
  ctx.strokeRect(frame.x - 0.5, frame.y - 0.5, frame.w + 1, frame.h + 1);
  text(ctx, format(hi), frame.x + frame.w + 4, frame.y, { baseline: "top", colour: theme.muted, size: 10 });
  text(ctx, format(lo), frame.x + frame.w + 4, frame.y + frame.h, { baseline: "bottom", colour: theme.muted, size: 10 });
}

/** Height of the title line of an exported chart, CSS px. */
export const TITLE_HEIGHT = 24;

/**
 * A new canvas of doc, width x height CSS px (plus a TITLE_HEIGHT line above when `title` is
 * given, and wider when the title needs it) at `scale` px each, cleared to theme.background, with draw(ctx, theme) run in CSS px
 * below the title: the PNG export of a view (LIGHT: white for slides).
 */
export function composeChart(doc, width, height, draw, { scale = 2, theme = LIGHT, title = "" } = {}) {
  if (!Number.isInteger(scale) || scale < 1 || scale > 8) throw new Error(`scale must be a whole number 1..8, got ${scale}`);
  const top = title ? TITLE_HEIGHT : 0;
  const out = doc.createElement("canvas");
  const measure = out.getContext("2d");
  measure.font = `600 13px ${FONT_FAMILY}`;
  width = Math.max(width, title ? Math.ceil(measure.measureText(title).width) + 16 : 0); // the title is never cut
  out.width = Math.round(width * scale);
  out.height = Math.round((height + top) * scale);
  const ctx = out.getContext("2d");
  ctx.fillStyle = theme.background;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.scale(scale, scale);
  if (title) text(ctx, title, 8, top / 2, { baseline: "middle", colour: theme.ink, size: 13, bold: true });
  ctx.translate(0, top);
  draw(ctx, theme);
  return out;
}
