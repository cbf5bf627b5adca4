// Canvas layouts of the explorer for one model shape: the small multiples (one per head) and
// the large focused view, each as a token grid (patches plus prefix cells) and as a
// query-aligned offset grid.

import { gridLayout, fitCell, alignedGrid } from "../geometry.js";

/** px available for one head's small map */
export const SMALL_WIDTH = 150;
/** px available for the focused head's map */
export const FOCUS_WIDTH = 380;

function alignedLayout(aligned, width) {
  return gridLayout({ gh: aligned.rows, gw: aligned.cols, cell: Math.max(1, Math.floor(width / aligned.cols)) });
}

/**
 * Layouts for a model of gh x gw patches, P prefix tokens and H heads.
 * @param {{grid: [number, number], numPrefix: number, numHeads: number}} shape
 * @returns {{gh, gw, P, H, N, aligned, small, focus, alignedSmall, alignedFocus}} N = P + gh * gw
 *   tokens; aligned from alignedGrid; the aligned layouts are as wide as their token layouts
 *   allow (whole px per cell)
 */
export function explorerLayouts({ grid: [gh, gw], numPrefix: P, numHeads: H }) {
  const small = gridLayout({ gh, gw, numPrefix: P, cell: fitCell(gw, P, gh, SMALL_WIDTH) });
  const focus = gridLayout({ gh, gw, numPrefix: P, cell: fitCell(gw, P, gh, FOCUS_WIDTH) });
  const aligned = alignedGrid(gh, gw);
  return {
    gh, gw, P, H, N: P + gh * gw, aligned, small, focus,
    alignedSmall: alignedLayout(aligned, small.width),
    alignedFocus: alignedLayout(aligned, focus.width),
  };
}

/** The layout a canvas uses in this mode: aligned modes draw offsets, the others tokens. */
export function canvasLayout(layouts, mode, isFocus) {
  if (mode === "aligned") return isFocus ? layouts.alignedFocus : layouts.alignedSmall;
  return isFocus ? layouts.focus : layouts.small;
}
