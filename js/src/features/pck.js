// PCK per layer as a small canvas line plot (not bokeh: it must draw in every anywidget host):
// one point per block, the best block marked with a star, the selected block with a ring and a
// vertical line; a click picks the nearest block. Axes and colours come from chart.js.

import { SELECT_COLOUR, SERIES_COLOURS, drawAxes, drawLine, drawMarker, drawText, drawVertical, integerTicks, linearScale, nearestIndex } from "../chart.js";

/** Size of the plot in CSS px. */
export const PCK_SIZE = { width: 300, height: 160 };

/** The plotting frame {x, y, w, h} inside a canvas of {width, height}: room for the tick labels. */
export function pckFrame({ width, height }) {
  return { x: 46, y: 22, w: width - 56, h: height - 58 };
}

/** The block of the highest PCK (the first of ties), -1 for no values. */
export function bestLayer(values) {
  let best = -1;
  values.forEach((v, i) => { if (best < 0 || v > values[best]) best = i; });
  return best;
}

/** Scales of the plot: blocks 0..n-1 across, PCK 0..1 up. */
export function pckScales(frame, n) {
  return {
    xs: linearScale([0, Math.max(1, n - 1)], [frame.x + 6, frame.x + frame.w - 6]),
    ys: linearScale([0, 1], [frame.y + frame.h, frame.y]),
  };
}

/** The block whose point is nearest canvas x. */
export function layerAt(frame, n, x) {
  const { xs } = pckScales(frame, n);
  return nearestIndex(Array.from({ length: n }, (_, i) => xs.map(i)), x);
}

/**
 * Draw the plot.
 * @param ctx 2D context (CSS px)
 * @param {number[]} values PCK per block, 0..1
 * @param {{frame, layer: number, theme, alpha: number}} o the selected block, chart.js theme,
 *   the PCK threshold (shown in the title)
 */
export function drawPck(ctx, values, { frame, layer, theme, alpha }) {
  const n = values.length;
  const { xs, ys } = pckScales(frame, n);
  const best = bestLayer(values);
  drawText(ctx, `PCK@${alpha} per block (best: block ${best}, ${(100 * values[best]).toFixed(0)} %)`, frame.x - 40, 4, { baseline: "top", colour: theme.ink, bold: true });
  drawAxes(ctx, frame, xs, ys, { theme, xTicks: integerTicks(0, n - 1), yTicks: [0, 0.5, 1], yFormat: (v) => `${Math.round(v * 100)}%`, xLabel: "block" });
  if (layer >= 0 && layer < n) drawVertical(ctx, frame, xs.map(layer), SELECT_COLOUR, { width: 1.5 });
  const points = values.map((v, i) => [xs.map(i), ys.map(v)]);
  drawLine(ctx, points, SERIES_COLOURS[0]);
  points.forEach(([px, py]) => drawMarker(ctx, px, py, "circle", SERIES_COLOURS[0], 5));
  if (best >= 0) drawMarker(ctx, points[best][0], points[best][1], "star", SERIES_COLOURS[1], 13);
  if (layer >= 0 && layer < n) drawMarker(ctx, points[layer][0], points[layer][1], "ring", SELECT_COLOUR, 11);
}
