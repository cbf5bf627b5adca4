// Painting the RepresentationMap: the CKA heat map with the selected cell (orange) and the
// hovered one outlined, its colour bar (CKA 0..1), and the token-similarity curve of each model
// under it with the selected blocks marked. Pure drawing on a 2D context (tests read pixels).

import {
  SERIES_COLOURS, SELECT_COLOUR, LIGHT, cellRect, drawAxes, drawColourBar, drawHeatmap, drawLine, drawMarker,
  drawText, extent, formatTick, integerTicks, linearScale, niceTicks, tickStep,
} from "../chart.js";
import { blockX } from "./layout.js";

function outline(ctx, r, colour, width) {
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.strokeRect(r.x + width / 2, r.y + width / 2, r.w - width, r.h - width);
  ctx.restore();
}

/** The heat map, its axes and colour bar, and the selected / hovered cells. */
function paintHeat(ctx, L, s, theme) {
  const { heat } = L;
  drawHeatmap(ctx, heat, s.cka ?? [], s.rows, s.cols, { colormap: s.colormap, lo: 0, hi: 1 });
  const xs = linearScale([-0.5, s.cols - 0.5], [heat.x, heat.x + heat.w]);
  const ys = linearScale([-0.5, s.rows - 0.5], [heat.y + heat.h, heat.y]);
  drawAxes(ctx, heat, xs, ys, {
    theme, grid: false, xTicks: integerTicks(0, s.cols - 1), yTicks: integerTicks(0, s.rows - 1),
    xLabel: s.cross ? `${s.nameB}: block` : "block", yLabel: s.cross ? `${s.nameA}: block` : "block",
  });
  drawColourBar(ctx, L.bar, s.colormap, 0, 1, theme);
  drawText(ctx, "CKA", L.bar.x + L.bar.w / 2, L.bar.y + L.bar.h + 4, { align: "center", baseline: "top", colour: theme.ink, size: 10 });
  if (s.hover) outline(ctx, cellRect(heat, s.rows, s.cols, s.hover.row, s.hover.col), theme.ink, 1);
  if (s.layer < s.rows && s.layerB < s.cols) outline(ctx, cellRect(heat, s.rows, s.cols, s.layer, s.layerB), SELECT_COLOUR, 2);
}

/** [x, y] points of a residual-stream curve [L+1] (block outputs only) in the curve frame. */
export function curvePoints(frame, sim, ys) {
  const L = sim.length - 1;
  return Array.from({ length: L }, (_, b) => [blockX(frame, b, L), ys.map(sim[b + 1])]);
}

/** The token-similarity curves: model A (and B) with the selected blocks marked. */
function paintCurve(ctx, L, s, theme) {
  const { curve } = L;
  const curves = [[s.simA, s.layer, s.nameA], ...(s.cross ? [[s.simB, s.layerB, s.nameB]] : [])].filter(([v]) => v && v.length > 1);
  const [lo, hi] = extent(...curves.map(([v]) => Array.from(v).slice(1)));
  const ys = linearScale([lo, hi], [curve.y + curve.h - 4, curve.y + 4]);
  const xs = linearScale([-0.5, s.cols - 0.5], [curve.x, curve.x + curve.w]);
  const step = tickStep(lo, hi, 3);
  drawAxes(ctx, curve, xs, ys, { theme, xTicks: integerTicks(0, s.cols - 1), yTicks: niceTicks(lo, hi, 3), yFormat: (v) => formatTick(v, step), xLabel: "token similarity (mean cosine of patch tokens) per block" });
  curves.forEach(([sim, selected, name], i) => {
    const pts = curvePoints(curve, sim, ys);
    const colour = SERIES_COLOURS[i];
    drawLine(ctx, pts, colour);
    pts.forEach(([x, y]) => drawMarker(ctx, x, y, "circle", colour, 4));
    if (pts[selected]) drawMarker(ctx, pts[selected][0], pts[selected][1], "ring", SELECT_COLOUR, 10);
    if (s.cross) drawText(ctx, name, curve.x + 6 + i * (curve.w / 2), curve.y + 4, { baseline: "top", colour, size: 10 });
  });
}

/**
 * The whole map in layout L (from mapLayout) on ctx (not cleared first).
 * @param s {rows, cols, cka: Float32Array|null (row-major, NaN = not yet), simA, simB,
 *   layer, layerB, hover: {row, col}|null, colormap, cross, nameA, nameB}
 */
export function paintMap(ctx, L, s, theme = LIGHT) {
  paintHeat(ctx, L, s, theme);
  if (s.simA) paintCurve(ctx, L, s, theme);
}
