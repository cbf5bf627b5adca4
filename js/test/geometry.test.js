import { test } from "node:test";
import assert from "node:assert/strict";
import { gridLayout, tokenToPatch, patchToToken, fitCell, alignedGrid } from "../src/geometry.js";

function roundTrip(layout) {
  for (let t = 0; t < layout.numTokens; t++) {
    const r = layout.cellRect(t);
    assert.ok(r.x >= 0 && r.y >= 0 && r.x + r.w <= layout.width && r.y + r.h <= layout.height, `token ${t} inside`);
    // every pixel corner and the centre of the cell map back to the token
    for (const [dx, dy] of [[0, 0], [r.w - 1, 0], [0, r.h - 1], [r.w - 1, r.h - 1], [r.w / 2, r.h / 2]]) {
      assert.equal(layout.tokenAt(r.x + dx, r.y + dy), t, `token ${t} at +${dx},+${dy}`);
    }
  }
}

test("non-square grid with one prefix token (CLS)", () => {
  const L = gridLayout({ gh: 3, gw: 5, numPrefix: 1, cell: 10, gap: 4 });
  assert.equal(L.numTokens, 16);
  assert.deepEqual(L.grid, { x: 0, y: 0, w: 50, h: 30 });
  assert.equal(L.width, 50 + 4 + 10);
  assert.equal(L.height, 30);
  assert.deepEqual(L.cellRect(0), { x: 54, y: 0, w: 10, h: 10 }); // CLS beside the grid
  assert.deepEqual(L.cellRect(1), { x: 0, y: 0, w: 10, h: 10 }); // patch (0, 0)
  assert.deepEqual(L.cellRect(1 + 7), { x: 20, y: 10, w: 10, h: 10 }); // patch (1, 2)
  assert.deepEqual(L.cellRect(15), { x: 40, y: 20, w: 10, h: 10 }); // last patch (2, 4)
  roundTrip(L);
});

test("tall grid, many prefix tokens wrap into several columns", () => {
  // 2 rows of patches, CLS + 4 registers: prefix cells fill columns of 2
  const L = gridLayout({ gh: 2, gw: 3, numPrefix: 5, cell: 7, gap: 3 });
  assert.equal(L.prefixColumns, 3);
  assert.equal(L.width, 21 + 3 + 21);
  assert.deepEqual(L.cellRect(2), { x: 24 + 7, y: 0, w: 7, h: 7 });
  assert.deepEqual(L.cellRect(4), { x: 24 + 14, y: 0, w: 7, h: 7 });
  assert.equal(L.tokenAt(24 + 14 + 1, 7 + 1), -1, "empty slot after the last prefix token");
  roundTrip(L);
});

test("points outside every cell give -1", () => {
  const L = gridLayout({ gh: 4, gw: 2, numPrefix: 1, cell: 8, gap: 5 });
  assert.equal(L.tokenAt(-1, 0), -1);
  assert.equal(L.tokenAt(0, -1), -1);
  assert.equal(L.tokenAt(17, 3), -1, "in the gap");
  assert.equal(L.tokenAt(21, 9), -1, "below the CLS cell");
  assert.equal(L.tokenAt(5, 32), -1, "below the grid");
  assert.throws(() => L.cellRect(9), RangeError);
});

test("no prefix tokens", () => {
  const L = gridLayout({ gh: 2, gw: 2, numPrefix: 0, cell: 4 });
  assert.equal(L.width, 8);
  assert.equal(L.tokenAt(8, 0), -1);
  roundTrip(L);
});

test("patch <-> token and cell fitting", () => {
  assert.equal(patchToToken(2, 3, 1, 14), 1 + 2 * 14 + 3);
  assert.deepEqual(tokenToPatch(1 + 2 * 14 + 3, 1, 14), { row: 2, col: 3 });
  assert.equal(tokenToPatch(0, 1, 14), null);
  const cell = fitCell(14, 1, 14, 380);
  assert.ok(gridLayout({ gh: 14, gw: 14, numPrefix: 1, cell }).width <= 380);
  assert.ok(gridLayout({ gh: 14, gw: 14, numPrefix: 1, cell: cell + 1 }).width > 380);
  assert.throws(() => gridLayout({ gh: 0, gw: 2, cell: 3 }), RangeError);
});

test("aligned grid of a 3 x 4 patch grid: 5 x 7 offsets around the centre", () => {
  const g = alignedGrid(3, 4);
  assert.deepEqual([g.rows, g.cols, g.cells, g.centre], [5, 7, 35, 2 * 7 + 3]);
  assert.deepEqual(g.offsetOf(g.centre), { dy: 0, dx: 0 });
  assert.deepEqual(g.offsetOf(0), { dy: -2, dx: -3 });
  assert.deepEqual(g.offsetOf(34), { dy: 2, dx: 3 });
  assert.deepEqual(g.offsetOf(g.centre + 1), { dy: 0, dx: 1 });
  assert.deepEqual(g.offsetOf(g.centre - 7), { dy: -1, dx: 0 });
  assert.throws(() => g.offsetOf(35), RangeError);
  assert.throws(() => g.offsetOf(-1), RangeError);
  assert.deepEqual({ ...alignedGrid(1, 1), offsetOf: undefined }, { rows: 1, cols: 1, cells: 1, centre: 0, offsetOf: undefined });
  assert.throws(() => alignedGrid(0, 3), RangeError);
});
