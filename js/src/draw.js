// Drawing attention maps onto a 2D canvas: the image under a translucent heat map of the patch
// cells, prefix tokens as opaque cells beside the grid, and outlines for marked tokens.
// Works with any CanvasRenderingContext2D-like object (browser canvas, @napi-rs/canvas in tests).

import { lutIndex } from "./colormaps.js";

export const PREFIX_BACKGROUND = "#20232a";
export const EMPTY_BACKGROUND = "#15171c";
/** share of the full opacity given to a cell with zero attention (over an image) */
export const FLOOR_ALPHA = 0.3;

const imageDataCache = new WeakMap();

function scratchImageData(scratch, w, h) {
  let data = imageDataCache.get(scratch);
  if (!data || data.width !== w || data.height !== h) {
    scratch.width = w;
    scratch.height = h;
    data = scratch.getContext("2d").createImageData(w, h);
    imageDataCache.set(scratch, data);
  }
  return data;
}

/**
 * Draw the background of a layout once (to reuse on every repaint): the image scaled into the
 * patch grid and a dark area behind the prefix cells.
 * @param ctx 2D context of a canvas of size layout.width x layout.height
 * @param layout from gridLayout
 * @param image a CanvasImageSource (image bitmap, canvas) or null for no image
 * @param [o.dim] share 0..1 of the image darkened to black (0: as it is)
 */
export function drawBase(ctx, layout, image, { labels = null, font = "10px sans-serif", textColor = "#888", dim = 0 } = {}) {
  ctx.clearRect(0, 0, layout.width, layout.height);
  const { grid } = layout;
  if (image) {
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(image, grid.x, grid.y, grid.w, grid.h);
    if (dim > 0) {
      // dim the image towards black so that the low end of the colour map shows over it
      ctx.fillStyle = `rgba(0,0,0,${Math.min(1, dim)})`;
      ctx.fillRect(grid.x, grid.y, grid.w, grid.h);
    }
  }
  if (layout.numPrefix > 0) {
    ctx.fillStyle = PREFIX_BACKGROUND;
    for (let t = 0; t < layout.numPrefix; t++) {
      const r = layout.cellRect(t);
      ctx.fillRect(r.x, r.y, r.w, r.h);
    }
    // names of the prefix tokens under the last prefix column, one per line
    if (labels && layout.cell >= 12) {
      ctx.font = font;
      ctx.fillStyle = textColor;
      ctx.textBaseline = "top";
      const lastRow = Math.min(layout.numPrefix, layout.gh);
      let y = lastRow * layout.cell + 3;
      for (let t = 0; t < layout.numPrefix && y < layout.height - 10; t++, y += 12) {
        ctx.fillText(String(labels[t] ?? t).slice(0, 5), layout.prefixX, y);
      }
    }
  }
}

/**
 * Paint one map. t holds a colour position in [0, 1] per token (length layout.numTokens).
 * @param ctx target 2D context (canvas of size layout.width x layout.height)
 * @param layout from gridLayout
 * @param t Float32Array of colour positions per token
 * @param o.lut colour map LUT (Uint8Array 256*3)
 * @param o.opacity heat map opacity over the image at the maximum, 0..1; a cell's alpha is
 *   opacity * (FLOOR_ALPHA + (1 - FLOOR_ALPHA) * t) so that the image shows where attention is low
 * @param o.base canvas drawn first (from drawBase), or null to clear to a dark background
 * @param o.scratch a canvas used as a gw x gh pixel buffer (resized as needed)
 * @param o.marks [{token, color, lineWidth}] cells to outline
 * @param o.gridLines whether to draw lines between the patch cells (drawGridLines); the patch
 *   grid always gets a frame (drawFrame)
 * @param o.contour colour position 0..1 to outline the cells at or above (drawContour); 0: none
 */
export function paintMap(ctx, layout, t, { lut, opacity = 0.7, base = null, scratch, marks = [], gridLines = false, contour = 0 }) {
  const { gh, gw, numPrefix: P, grid } = layout;
  if (base) {
    ctx.clearRect(0, 0, layout.width, layout.height);
    ctx.drawImage(base, 0, 0);
  } else {
    ctx.fillStyle = EMPTY_BACKGROUND;
    ctx.fillRect(0, 0, layout.width, layout.height);
  }
  const img = scratchImageData(scratch, gw, gh);
  const px = img.data;
  const alphaMax = Math.max(0, Math.min(1, opacity)) * 255;
  // without an image underneath every cell is opaque
  const floor = base ? FLOOR_ALPHA : 1;
  for (let g = 0; g < gh * gw; g++) {
    const i = lutIndex(t[P + g]);
    const li = i * 3;
    const o = g * 4;
    px[o] = lut[li];
    px[o + 1] = lut[li + 1];
    px[o + 2] = lut[li + 2];
    px[o + 3] = Math.round(alphaMax * (floor + (1 - floor) * (i / 255)));
  }
  scratch.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, 0, 0, gw, gh, grid.x, grid.y, grid.w, grid.h);
  for (let p = 0; p < P; p++) {
    const li = lutIndex(t[p]) * 3;
    const r = layout.cellRect(p);
    ctx.fillStyle = `rgb(${lut[li]},${lut[li + 1]},${lut[li + 2]})`;
    ctx.fillRect(r.x + 1, r.y + 1, r.w - 2, r.h - 2);
  }
  if (gridLines) drawGridLines(ctx, layout);
  if (contour > 0) drawContour(ctx, layout, t, contour);
  drawFrame(ctx, layout);
  drawMarks(ctx, layout, marks);
}

/** Colour of the frame around the patch grid: mid grey, apart from a white page and a dark one. */
export const FRAME_COLOR = "#888888";

/** A 1 px frame on the outer edge of the patch grid (so that a bright edge cell does not merge with the page). */
export function drawFrame(ctx, layout, color = FRAME_COLOR) {
  const { grid } = layout;
  ctx.lineWidth = 1;
  ctx.strokeStyle = color;
  ctx.strokeRect(grid.x + 0.5, grid.y + 0.5, grid.w - 1, grid.h - 1);
}

/** Outline cells: marks = [{token, color, lineWidth}]. */
export function drawMarks(ctx, layout, marks) {
  for (const m of marks) {
    if (!(m.token >= 0 && m.token < layout.numTokens)) continue;
    const r = layout.cellRect(m.token);
    const w = m.lineWidth ?? Math.max(1, Math.round(layout.cell / 8));
    ctx.lineWidth = w;
    ctx.strokeStyle = m.color ?? "#ffffff";
    ctx.strokeRect(r.x + w / 2, r.y + w / 2, r.w - w, r.h - w);
  }
}

/** Grid lines are drawn only when cells are at least this many px (finer grids would be all lines). */
export const GRID_MIN_CELL = 6;
/** Colour of the patch grid lines: mid grey, half transparent (shows on dark and on bright cells). */
export const GRID_COLOR = "rgba(128,128,128,0.55)";

/**
 * Lines between the patch cells of a layout: 1 px at x = c * cell (c = 1..gw-1) and y = r * cell
 * (r = 1..gh-1), inside the patch grid; nothing when the cells are under GRID_MIN_CELL px.
 */
export function drawGridLines(ctx, layout, color = GRID_COLOR) {
  const { gh, gw, cell, grid } = layout;
  if (cell < GRID_MIN_CELL) return;
  ctx.fillStyle = color;
  for (let c = 1; c < gw; c++) ctx.fillRect(grid.x + c * cell, grid.y, 1, grid.h);
  for (let r = 1; r < gh; r++) ctx.fillRect(grid.x, grid.y + r * cell, grid.w, 1);
}

/**
 * Axes of a query-aligned map (a layout of (2gh-1) x (2gw-1) offset cells): dashed lines along
 * the middle of the row dy = 0 and of the column dx = 0, crossing in the centre cell (the query).
 */
export function drawAlignedAxes(ctx, layout, color = "rgba(255,255,255,0.6)") {
  const { gh: rows, gw: cols, cell, grid } = layout;
  const cx = grid.x + (cols / 2) * cell;
  const cy = grid.y + (rows / 2) * cell;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 1;
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(grid.x, cy);
  ctx.lineTo(grid.x + grid.w, cy);
  ctx.moveTo(cx, grid.y);
  ctx.lineTo(cx, grid.y + grid.h);
  ctx.stroke();
  ctx.restore();
}

/** Colours of the contour: a light line with a dark one beside it (shows over any colour). */
export const CONTOUR_COLORS = ["#ffffff", "#000000"];

/**
 * Outline the patch cells whose colour position t is at least `level`: a line along every edge
 * between such a cell and a cell below the level (or the grid's border), light on the inside
 * and dark on the outside.
 * @param t colour positions per token (prefix tokens first, as paintMap's)
 */
export function drawContour(ctx, layout, t, level, [light, dark] = CONTOUR_COLORS) {
  const { gh, gw, numPrefix: P, cell, grid } = layout;
  const above = (r, c) => r >= 0 && r < gh && c >= 0 && c < gw && t[P + r * gw + c] >= level;
  const w = Math.max(1, Math.round(cell / 10));
  for (let r = 0; r < gh; r++) for (let c = 0; c < gw; c++) {
    if (!above(r, c)) continue;
    const x = grid.x + c * cell;
    const y = grid.y + r * cell;
    // [inside strip, outside strip] of each open edge: top, bottom, left, right
    const edges = [
      [!above(r - 1, c), [x, y, cell, w], [x, y - w, cell, w]],
      [!above(r + 1, c), [x, y + cell - w, cell, w], [x, y + cell, cell, w]],
      [!above(r, c - 1), [x, y, w, cell], [x - w, y, w, cell]],
      [!above(r, c + 1), [x + cell - w, y, w, cell], [x + cell, y, w, cell]],
    ];
    for (const [open, inside, outside] of edges) {
      if (!open) continue;
      ctx.fillStyle = light;
      ctx.fillRect(...inside);
      ctx.fillStyle = dark;
      ctx.fillRect(...outside);
    }
  }
}
