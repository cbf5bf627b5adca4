// Painting the FeatureExplorer: every image under its cosine-similarity map to the shown patch
// (the hovered one, else the clicked one), the kernel's best matches marked, and the panels
// (PCA colours, foreground, clusters). Maps are computed here (similarity.js) on every hover.

import { gridLayout } from "../geometry.js";
import { drawBase, drawFrame, drawMarks, paintMap } from "../draw.js";
import { colormapLut } from "../colormaps.js";
import { SELECT_COLOUR, drawMarker } from "../chart.js";
import { brightest, colourPositions, mapRange, similarityMaps } from "./similarity.js";
import { panelPixels } from "./panels.js";

/** Side in px of each image's map (cells are whole pixels, so a bit less). */
export const MAP_SIDE = 168;
/** Colour of a mutual match's mark (a one-way match gets a white ring). */
export const MUTUAL_COLOUR = "#35d07f";
export const ONE_WAY_COLOUR = "#ffffff";

/** Layouts of the map and of the panel under it (the same cells) for a grid [gh, gw]. */
export function layoutsOf([gh, gw]) {
  const layout = gridLayout({ gh, gw, cell: Math.max(2, Math.floor(MAP_SIDE / Math.max(gh, gw))) });
  return { map: layout, panel: layout };
}

/** The patch whose maps are shown: the hovered one, else the clicked one (query >= P), else null. */
export function shownPatch(hover, { image, query, P }) {
  if (hover) return hover;
  return query >= P ? { image, patch: query - P } : null;
}

/**
 * Marks of image j: the shown patch in its own image, and the kernel's match when `matches`
 * answer this patch ({image, patch, best, mutual}).
 * @returns {{outlines: object[], dots: {patch, mutual}[]}}
 */
export function marksOf(j, shown, matches) {
  const outlines = [], dots = [];
  if (shown && shown.image === j) outlines.push({ token: shown.patch, color: SELECT_COLOUR, lineWidth: 2 });
  if (shown && matches && matches.image === shown.image && matches.patch === shown.patch && j !== shown.image) {
    const mutual = Boolean(matches.mutual[j]);
    outlines.push({ token: matches.best[j], color: mutual ? MUTUAL_COLOUR : ONE_WAY_COLOUR, lineWidth: 2 });
    dots.push({ patch: matches.best[j], mutual });
  }
  return { outlines, dots };
}

/** Draw each cell's image once into its base canvas (under every map). */
export function drawBases(app) {
  const L = layoutsOf(app.model.get("grid"));
  app.cells.forEach((c, j) => {
    for (const [canvas, layout] of [[c.canvas, L.map], [c.base, L.map], [c.panel, L.panel]]) {
      canvas.width = layout.width;
      canvas.height = layout.height;
      Object.assign(canvas.style, { width: `${layout.width}px`, height: `${layout.height}px` });
    }
    c.label.style.maxWidth = `${L.map.width}px`;
    drawBase(c.base.getContext("2d"), L.map, app.bitmaps[j] ?? null);
  });
}

function drawDots(ctx, layout, dots) {
  for (const d of dots) {
    const r = layout.cellRect(d.patch);
    drawMarker(ctx, r.x + r.w / 2, r.y + r.h / 2, d.mutual ? "circle" : "ring", d.mutual ? MUTUAL_COLOUR : ONE_WAY_COLOUR, Math.max(4, r.w / 2));
  }
}

/** The maps of the shown patch [B * G] and their colour range, or null when nothing is shown. */
function mapsOf(app, shown) {
  const d = app.data;
  if (!d || !shown) return null;
  const B = app.cells.length, G = d.G;
  app.maps = similarityMaps(d.coords, { B, G, dims: d.dims }, shown.image, shown.patch, app.maps?.length === B * G ? app.maps : undefined);
  const range = mapRange(app.maps, shown.image * G + shown.patch);
  return { maps: app.maps, range, t: colourPositions(app.maps, range, app.t?.length === B * G ? app.t : undefined), top: brightest(app.maps, B, G) };
}

/** Repaint every image's map, its marks and the per-cell data-* hooks; returns the maps shown. */
export function paintMaps(app, shown) {
  const t0 = performance.now();
  const L = layoutsOf(app.model.get("grid")).map;
  const G = L.gh * L.gw;
  const m = mapsOf(app, shown);
  app.shown = m;
  app.t = m?.t ?? app.t;
  const lut = colormapLut(app.model.get("colormap"));
  app.cells.forEach((c, j) => {
    const ctx = c.canvas.getContext("2d");
    const { outlines, dots } = marksOf(j, shown, app.matchesShown?.(shown));
    if (m) paintMap(ctx, L, m.t.subarray(j * G, (j + 1) * G), { lut, opacity: 0.8, base: c.base, scratch: app.scratch, marks: outlines });
    else {
      ctx.clearRect(0, 0, L.width, L.height);
      ctx.drawImage(c.base, 0, 0);
      drawFrame(ctx, L);
      drawMarks(ctx, L, outlines);
    }
    drawDots(ctx, L, dots);
    c.cell.dataset.brightest = m ? String(m.top[j]) : "";
    c.cell.dataset.maxCos = m ? m.maps[j * G + m.top[j]].toFixed(4) : "";
  });
  app.paintCount += 1;
  Object.assign(app.view.root.dataset, { paintCount: String(app.paintCount), lastPaintMs: (performance.now() - t0).toFixed(2),
    hoverImage: String(shown?.image ?? -1), hoverPatch: String(shown?.patch ?? -1) });
  return m;
}

/** Paint every panel (PCA colours, foreground or clusters) from the layer's data. */
export function paintPanels(app) {
  const d = app.data;
  const L = layoutsOf(app.model.get("grid")).panel;
  const G = L.gh * L.gw;
  app.cells.forEach((c, j) => {
    const ctx = c.panel.getContext("2d");
    ctx.clearRect(0, 0, L.width, L.height);
    if (!d) return;
    app.scratch.width = L.gw;
    app.scratch.height = L.gh;
    const sctx = app.scratch.getContext("2d");
    const img = sctx.createImageData(L.gw, L.gh);
    img.data.set(panelPixels(app.model.get("panel"), d, j, G));
    sctx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(app.scratch, 0, 0, L.gw, L.gh, 0, 0, L.width, L.height);
    drawFrame(ctx, L);
  });
}
