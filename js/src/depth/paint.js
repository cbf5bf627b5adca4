// Painting the DepthProfile: a legend row (one colour per model, the markers' meaning), then
// one panel per metric with every model's curve on the shared depth axis, the selected block
// (a dashed orange line) and the probes' best block (a star). Pure drawing on a 2D context.

import {
  SERIES_COLOURS, SELECT_COLOUR, LIGHT, drawAxes, drawLine, drawMarker, drawText, drawVertical, extent, formatTick,
  integerTicks, linearScale, niceTicks, tickStep,
} from "../chart.js";
import { seriesOf, toAxis } from "./series.js";

/** The x scale of a frame for a domain. */
export function xScaleOf(frame, domain) {
  return linearScale(domain, [frame.x + 6, frame.x + frame.w - 6]);
}

function paintLegend(ctx, s, theme) {
  let x = 8;
  s.profiles.forEach((p, i) => {
    drawLine(ctx, [[x, 11], [x + 18, 11]], SERIES_COLOURS[i % SERIES_COLOURS.length], { width: 2 });
    drawText(ctx, s.names[i] ?? p.name, x + 22, 11, { baseline: "middle", colour: theme.ink });
    x += 34 + ctx.measureText(s.names[i] ?? p.name).width;
  });
  const hint = s.profiles.some((p) => p.sub_layers) ? "● after attention  □ after MLP  ◆ embedding  ★ best block" : "★ best block";
  drawText(ctx, hint, x + 12, 11, { baseline: "middle", colour: theme.muted, size: 10 });
}

function paintPanel(ctx, frame, panel, s, theme) {
  const series = s.profiles.map((p) => seriesOf(p, panel, s.axis));
  const [lo, hi] = extent(...series.map((v) => v.points.map((q) => q.y)));
  const pad = (hi - lo) * 0.06;
  const ys = linearScale([lo - pad, hi + pad], [frame.y + frame.h, frame.y]);
  const xs = xScaleOf(frame, s.domain);
  const step = tickStep(lo, hi, 4);
  const xTicks = s.axis === "relative" ? niceTicks(0, 1, 4) : integerTicks(s.domain[0], s.domain[1], 8);
  drawAxes(ctx, frame, xs, ys, {
    theme, xTicks, yTicks: niceTicks(lo, hi, 4), yFormat: (v) => formatTick(v, step),
    xFormat: (v) => (s.axis === "relative" ? formatTick(v, 0.25) : v < 0 ? "emb" : String(v)),
  });
  drawText(ctx, panel.title, frame.x, frame.y - 6, { colour: theme.ink, bold: true });
  const first = s.profiles[0];
  if (first && s.layer < first.num_layers) drawVertical(ctx, frame, xs.map(toAxis(s.layer, first.num_layers, s.axis)), SELECT_COLOUR);
  series.forEach(({ points, best }, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length];
    drawLine(ctx, points.map((q) => [xs.map(q.x), ys.map(q.y)]), colour);
    points.forEach((q) => drawMarker(ctx, xs.map(q.x), ys.map(q.y), q.marker, colour, 5, theme.background));
    if (best) drawMarker(ctx, xs.map(best.x), ys.map(best.y), "star", colour, 14, theme.background);
  });
}

/**
 * The whole profile view in layout L (from panelLayout) on ctx (not cleared first).
 * @param s {profiles, names, panels, axis, domain, layer}
 */
export function paintProfiles(ctx, L, s, theme = LIGHT) {
  paintLegend(ctx, s, theme);
  s.panels.forEach((panel, i) => paintPanel(ctx, L.frames[i], panel, s, theme));
}
