// Where the RepresentationMap draws (canvas px = CSS px): the CKA heat map (model A's blocks
// as rows, block 0 at the bottom; model B's, or A's again, as columns), its colour bar, and the
// token-similarity curve under it sharing the columns' axis. Also the readout texts.

/** Side of the heat map the cells share, CSS px (cells are square, 6..36 px). */
export const MAP_SIDE = 360;
export const MARGIN = { left: 60, top: 8, gap: 44, bar: 14, barGap: 12, right: 44, bottom: 34 };
export const CURVE_HEIGHT = 100;

/** Side of one CKA cell for a rows x cols matrix. */
export function cellSide(rows, cols) {
  return Math.max(6, Math.min(36, Math.floor(MAP_SIDE / Math.max(rows, cols, 1))));
}

/**
 * Frames of a rows x cols map: {width, height, cell, heat, bar, curve}, each frame {x, y, w, h}.
 */
export function mapLayout(rows, cols) {
  const cell = cellSide(rows, cols);
  const heat = { x: MARGIN.left, y: MARGIN.top, w: cols * cell, h: rows * cell };
  const bar = { x: heat.x + heat.w + MARGIN.barGap, y: heat.y, w: MARGIN.bar, h: heat.h };
  const curve = { x: heat.x, y: heat.y + heat.h + MARGIN.gap, w: heat.w, h: CURVE_HEIGHT };
  return { width: bar.x + bar.w + MARGIN.right, height: curve.y + curve.h + MARGIN.bottom, cell, heat, bar, curve };
}

/** x (canvas px) of block b of a model with L blocks on the columns' axis of a frame. */
export function blockX(frame, b, numLayers) {
  return frame.x + ((b + 0.5) / numLayers) * frame.w;
}

/** What a CKA value reads as: two decimals, or "not computed yet". */
export function ckaText(value) {
  return Number.isFinite(value) ? `CKA ${value.toFixed(2)}` : "CKA not computed yet";
}

/**
 * The readout of cell (row, col): "block 3 (A) × block 7 (B): CKA 0.82" across two models,
 * "block 3 × block 7 (A): CKA 0.82" within one.
 */
export function cellText({ row, col, value, cross, nameA, nameB }) {
  if (cross) return `block ${row} (${nameA}) × block ${col} (${nameB}): ${ckaText(value)}`;
  return `block ${row} × block ${col} (${nameA}): ${ckaText(value)}`;
}

/** Token similarity of block b (entry b + 1 of a residual-stream curve) as readout text. */
export function similarityText(name, sim, b) {
  const v = sim?.[b + 1];
  return Number.isFinite(v) ? `${name} block ${b}: token similarity ${v.toFixed(2)}` : "";
}
