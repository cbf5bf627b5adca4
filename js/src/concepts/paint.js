// Painting the ConceptMap: per labelled block a stacked bar of the labelled units' categories
// (shares of the labelled units) with the number of distinct concepts as a line on a right axis
// (the selected block outlined in orange, the hovered one in ink), and a unit's activation maps
// over its top images (one colour scale for the unit, more opaque where it fires; patches above the unit's
// threshold outlined). Pure drawing on a 2D context (tests read pixels).

import { SELECT_COLOUR, LIGHT, drawAxes, drawLine, drawMarker, drawText, integerTicks, linearScale, valueColour } from "../chart.js";
import { colormapLut } from "../colormaps.js";

/** Layout of the bars for n blocks: {width, height, frame, step, legendY}. */
export function barsLayout(n) {
  const step = Math.max(18, Math.min(44, Math.floor(520 / Math.max(1, n))));
  const frame = { x: 52, y: 10, w: step * Math.max(1, n), h: 170 };
  return { width: frame.x + frame.w + 52, height: frame.y + frame.h + 56, frame, step, legendY: frame.y + frame.h + 36 };
}

/** Index of the bar under canvas point (x, y), or -1. */
export function barAt(L, n, x, y) {
  const { frame } = L;
  if (y < frame.y || y > frame.y + frame.h || x < frame.x) return -1;
  const i = Math.floor((x - frame.x) / L.step);
  return i < n ? i : -1;
}

function outline(ctx, x, y, w, h, colour, width) {
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.strokeRect(x + width / 2, y + width / 2, w - width, h - width);
  ctx.restore();
}

/**
 * The bars in layout L (from barsLayout) on ctx.
 * @param s {bars (barsOf), categories, colours ({category: css}), selected: bar index or -1,
 *   hover: bar index or -1, conceptsMax: top of the right axis}
 */
export function paintBars(ctx, L, s, theme = LIGHT) {
  const { frame, step } = L;
  const n = s.bars.length;
  const ys = linearScale([0, 1], [frame.y + frame.h, frame.y]);
  const top = Math.max(1, s.conceptsMax ?? Math.max(1, ...s.bars.map((b) => b.concepts)));
  const yc = linearScale([0, top], [frame.y + frame.h, frame.y]);
  const xs = linearScale([-0.5, n - 0.5], [frame.x, frame.x + frame.w]);
  drawAxes(ctx, frame, xs, ys, { theme, xTicks: [], yTicks: [0, 0.25, 0.5, 0.75, 1], yFormat: (v) => `${Math.round(v * 100)}%`, yLabel: "share of labelled units" });
  s.bars.forEach((b, i) => {
    let y = frame.y + frame.h;
    const x = frame.x + i * step + step * 0.12, w = step * 0.76;
    b.shares.forEach((share, c) => {
      const hgt = share * frame.h;
      ctx.fillStyle = s.colours[s.categories[c]];
      ctx.fillRect(x, y - hgt, w, hgt);
      y -= hgt;
    });
    drawText(ctx, String(b.layer), xs.map(i), frame.y + frame.h + 3, { align: "center", baseline: "top", colour: theme.muted, size: 10 });
  });
  drawText(ctx, "block", frame.x + frame.w / 2, frame.y + frame.h + 16, { align: "center", baseline: "top", colour: theme.ink });
  const pts = s.bars.map((b, i) => [xs.map(i), yc.map(b.concepts)]);
  drawLine(ctx, pts, theme.ink, { width: 1.5 });
  pts.forEach(([x, y]) => drawMarker(ctx, x, y, "circle", theme.ink, 5));
  for (const t of integerTicks(0, top, 4)) drawText(ctx, String(t), frame.x + frame.w + 4, yc.map(t), { baseline: "middle", colour: theme.muted, size: 10 });
  ctx.save();
  ctx.translate(frame.x + frame.w + 38, frame.y + frame.h / 2);
  ctx.rotate(Math.PI / 2);
  drawText(ctx, "distinct concepts", 0, 0, { align: "center", baseline: "middle", colour: theme.ink });
  ctx.restore();
  if (s.hover >= 0 && s.hover < n) outline(ctx, frame.x + s.hover * step, frame.y, step, frame.h, theme.ink, 1);
  if (s.selected >= 0 && s.selected < n) outline(ctx, frame.x + s.selected * step, frame.y, step, frame.h, SELECT_COLOUR, 2);
  let lx = frame.x;
  for (const c of s.categories) {
    ctx.fillStyle = s.colours[c];
    ctx.fillRect(lx, L.legendY, 10, 10);
    drawText(ctx, c, lx + 14, L.legendY + 5, { baseline: "middle", colour: theme.ink, size: 11 });
    ctx.font = `11px sans-serif`;
    lx += 24 + Math.ceil(ctx.measureText(c).width);
  }
}

/** Layout of k top images of side `side` px: {width, height, tiles: [{x, y, w, h}]}. */
export function mapsLayout(k, side = 128) {
  const gap = 8, caption = 16;
  const tiles = Array.from({ length: k }, (_, j) => ({ x: j * (side + gap), y: 0, w: side, h: side }));
  return { width: Math.max(side, k * (side + gap) - gap), height: side + caption, tiles, caption };
}

/** Opacity share of a map cell: 0 at the unit's lowest value, 1 at its highest. */
export function cellAlpha(v, lo, hi) {
  return hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 1;
}

/**
 * A unit's maps over its top images in layout L (from mapsLayout).
 * @param s {maps: Float32Array [k, gh, gw], k, gh, gw, images: [drawable|null], range: [lo, hi],
 *   threshold, colormap, opacity, captions: [string]}
 */
export function paintUnitMaps(ctx, L, s, theme = LIGHT) {
  const lut = colormapLut(s.colormap);
  const [lo, hi] = s.range;
  L.tiles.forEach((t, j) => {
    ctx.save();
    if (s.images[j]) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(s.images[j], t.x, t.y, t.w, t.h);
    } else {
      ctx.fillStyle = theme.grid;
      ctx.fillRect(t.x, t.y, t.w, t.h);
    }
    const cw = t.w / s.gw, ch = t.h / s.gh;
    for (let r = 0; r < s.gh; r++) {
      for (let c = 0; c < s.gw; c++) {
        const v = s.maps[(j * s.gh + r) * s.gw + c];
        const rgb = valueColour(lut, v, lo, hi);
        if (!rgb) continue;
        ctx.globalAlpha = (s.opacity ?? 0.8) * cellAlpha(v, lo, hi); // a silent unit shows the image
        ctx.fillStyle = `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
        const x0 = Math.round(t.x + c * cw), y0 = Math.round(t.y + r * ch);
        ctx.fillRect(x0, y0, Math.round(t.x + (c + 1) * cw) - x0, Math.round(t.y + (r + 1) * ch) - y0);
      }
    }
    ctx.globalAlpha = 1;
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1;
    for (let r = 0; r < s.gh; r++) {
      for (let c = 0; c < s.gw; c++) {
        if (s.maps[(j * s.gh + r) * s.gw + c] > s.threshold) ctx.strokeRect(t.x + c * cw + 0.5, t.y + r * ch + 0.5, cw - 1, ch - 1);
      }
    }
    ctx.restore();
    drawText(ctx, s.captions?.[j] ?? "", t.x + t.w / 2, t.y + t.h + 3, { align: "center", baseline: "top", colour: theme.muted, size: 10 });
  });
}
