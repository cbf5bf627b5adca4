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
 */
export function drawBase(ctx, layout, image, { labels = null, font = "10px sans-serif", textColor = "#888" } = {}) {
  ctx.clearRect(0, 0, layout.width, layout.height);
  const { grid } = layout;
  if (image) {
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(image, grid.x, grid.y, grid.w, grid.h);
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
 */
export function paintMap(ctx, layout, t, { lut, opacity = 0.7, base = null, scratch, marks = [] }) {
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
  drawMarks(ctx, layout, marks);
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
