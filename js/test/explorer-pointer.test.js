import { test } from "node:test";
import assert from "node:assert/strict";
import { pointerMove, pointerLeave, queryAfterClick, canvasPoint } from "../src/explorer/pointer.js";

const idle = { hover: -1, alignedHover: -1 };

test("moving onto a new token repaints, or only updates the readout while a query is pinned", () => {
  assert.deepEqual(pointerMove(idle, "row", 4, false), { hover: 4, alignedHover: -1, redraw: "paint" });
  assert.deepEqual(pointerMove(idle, "column", 4, true), { hover: 4, alignedHover: -1, redraw: "readout" });
  assert.equal(pointerMove({ hover: 4, alignedHover: -1 }, "row", 4, false), null, "same token: nothing");
  assert.deepEqual(pointerMove({ hover: 4, alignedHover: -1 }, "row", -1, false), { hover: -1, alignedHover: -1, redraw: "paint" });
});

test("in aligned mode the pointer moves the offset cell and always repaints", () => {
  assert.deepEqual(pointerMove({ hover: 3, alignedHover: -1 }, "aligned", 10, true), { hover: 3, alignedHover: 10, redraw: "paint" });
  assert.equal(pointerMove({ hover: 3, alignedHover: 10 }, "aligned", 10, false), null);
});

test("leaving clears both hovers once", () => {
  assert.equal(pointerLeave(idle), null);
  assert.deepEqual(pointerLeave({ hover: 2, alignedHover: -1 }), { hover: -1, alignedHover: -1, redraw: "paint" });
  assert.deepEqual(pointerLeave({ hover: -1, alignedHover: 7 }), { hover: -1, alignedHover: -1, redraw: "paint" });
});

test("a click pins the hovered token and unpins the pinned one", () => {
  assert.equal(queryAfterClick("row", 5, -1), 5);
  assert.equal(queryAfterClick("row", 5, 5), -1);
  assert.equal(queryAfterClick("cls", 6, 5), 6);
  assert.equal(queryAfterClick("row", -1, 5), -1, "outside the cells");
  assert.equal(queryAfterClick("aligned", 5, -1), null);
});

test("canvas pixels under the pointer follow the CSS scale", () => {
  const canvas = { width: 200, height: 100, getBoundingClientRect: () => ({ left: 10, top: 20, width: 100, height: 50 }) };
  assert.deepEqual(canvasPoint(canvas, { clientX: 60, clientY: 45 }), { x: 100, y: 50 });
  const unlaid = { width: 200, height: 100, getBoundingClientRect: () => ({ left: 0, top: 0, width: 0, height: 0 }) };
  assert.deepEqual(canvasPoint(unlaid, { clientX: 7, clientY: 3 }), { x: 7, y: 3 });
});
