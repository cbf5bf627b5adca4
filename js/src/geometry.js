// Where each token of a ViT sits on a canvas. Token order follows the model: the P prefix tokens
// (CLS, distillation token, registers) first, then the G = gh * gw patch tokens in row-major
// order. Patches fill a gw x gh grid of square cells (the image); prefix tokens are drawn as
// extra cells in columns to the right of the grid, separated by a small gap, top to bottom.

/**
 * Layout of a patch grid plus prefix cells.
 * @param {object} o
 * @param {number} o.gh rows of patches
 * @param {number} o.gw columns of patches
 * @param {number} [o.numPrefix=0] prefix tokens P
 * @param {number} o.cell side of one cell in canvas pixels
 * @param {number} [o.gap] pixels between the grid and the prefix cells (default cell / 3)
 */
export function gridLayout({ gh, gw, numPrefix = 0, cell, gap }) {
  if (!(gh > 0 && gw > 0 && cell > 0)) throw new RangeError(`bad grid ${gh}x${gw}, cell ${cell}`);
  const P = numPrefix;
  const gapPx = P > 0 ? (gap ?? Math.max(2, Math.round(cell / 3))) : 0;
  const prefixRows = gh;
  const prefixColumns = P > 0 ? Math.ceil(P / prefixRows) : 0;
  const gridWidth = gw * cell;
  const gridHeight = gh * cell;
  const prefixX = gridWidth + gapPx;
  const layout = {
    gh, gw, numPrefix: P, cell,
    numTokens: P + gh * gw,
    grid: { x: 0, y: 0, w: gridWidth, h: gridHeight },
    prefixX, prefixColumns,
    width: gridWidth + (P > 0 ? gapPx + prefixColumns * cell : 0),
    height: gridHeight,

    /** Canvas rectangle {x, y, w, h} of token t (prefix or patch). */
    cellRect(t) {
      if (!(t >= 0 && t < layout.numTokens)) throw new RangeError(`token ${t} outside 0..${layout.numTokens - 1}`);
      if (t < P) {
        return { x: prefixX + Math.floor(t / prefixRows) * cell, y: (t % prefixRows) * cell, w: cell, h: cell };
      }
      const g = t - P;
      return { x: (g % gw) * cell, y: Math.floor(g / gw) * cell, w: cell, h: cell };
    },

    /** Token under canvas point (x, y), or -1 outside every cell. */
    tokenAt(x, y) {
      if (y < 0 || y >= gridHeight || x < 0) return -1;
      if (x < gridWidth) return P + Math.floor(y / cell) * gw + Math.floor(x / cell);
      if (P === 0 || x < prefixX) return -1;
      const col = Math.floor((x - prefixX) / cell);
      const t = col * prefixRows + Math.floor(y / cell);
      return col < prefixColumns && t < P ? t : -1;
    },
  };
  return layout;
}

/** Patch (row, col) of token t, or null for a prefix token. */
export function tokenToPatch(t, numPrefix, gw) {
  if (t < numPrefix) return null;
  const g = t - numPrefix;
  return { row: Math.floor(g / gw), col: g % gw };
}

/** Token index of patch (row, col). */
export function patchToToken(row, col, numPrefix, gw) {
  return numPrefix + row * gw + col;
}

/** Largest integer cell size so that a grid plus its prefix cells fits in maxWidth pixels. */
export function fitCell(gw, numPrefix, gh, maxWidth) {
  const prefixColumns = numPrefix > 0 ? Math.ceil(numPrefix / gh) : 0;
  // width = cell * (gw + prefixColumns) + gap, with gap ~ cell / 3 when there are prefix cells
  const units = gw + prefixColumns + (numPrefix > 0 ? 1 / 3 : 0);
  return Math.max(1, Math.floor(maxWidth / units));
}

/**
 * The query-aligned canvas of a gh x gw patch grid: every query is moved to the centre, so a
 * cell is an offset (dy, dx) in patches from the query, dy in -(gh-1)..gh-1 (down is positive),
 * dx in -(gw-1)..gw-1. Cells are row-major over (2gh-1) rows x (2gw-1) columns; the kernel's
 * "aligned" array is [H, rows, cols].
 * @returns {{rows: number, cols: number, cells: number, centre: number,
 *   offsetOf: (cell: number) => {dy: number, dx: number}}}
 *   centre: the cell of offset (0, 0), the query itself
 */
export function alignedGrid(gh, gw) {
  if (!(gh > 0 && gw > 0)) throw new RangeError(`bad grid ${gh}x${gw}`);
  const rows = 2 * gh - 1;
  const cols = 2 * gw - 1;
  const cells = rows * cols;
  return {
    rows, cols, cells,
    centre: (gh - 1) * cols + (gw - 1),
    offsetOf(cell) {
      if (!(Number.isInteger(cell) && cell >= 0 && cell < cells)) throw new RangeError(`cell ${cell} outside 0..${cells - 1}`);
      return { dy: Math.floor(cell / cols) - (gh - 1), dx: (cell % cols) - (gw - 1) };
    },
  };
}
