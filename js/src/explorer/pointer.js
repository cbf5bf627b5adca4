// The pointer over the explorer's canvases: hovering moves the query (or, in aligned mode, the
// read-out offset cell) and repaints; clicking the large view pins or unpins the query.

import { setTrait } from "../model.js";
import { canvasLayout } from "./layouts.js";
import { paint, updateReadout } from "./paint.js";

/**
 * Hover state after the pointer moved onto `token` (a token, or an aligned cell in aligned
 * mode; -1 outside every cell).
 * @param {{hover: number, alignedHover: number}} state
 * @param {boolean} pinned whether a query is pinned (then a hover only updates the readout)
 * @returns {{hover, alignedHover, redraw: "paint"|"readout"}|null} null when nothing changed
 */
export function pointerMove(state, mode, token, pinned) {
  if (mode === "aligned") {
    return token === state.alignedHover ? null : { hover: state.hover, alignedHover: token, redraw: "paint" };
  }
  if (token === state.hover) return null;
  return { hover: token, alignedHover: state.alignedHover, redraw: pinned ? "readout" : "paint" };
}

/** Hover state after the pointer left a canvas; null when nothing was hovered. */
export function pointerLeave(state) {
  if (state.hover === -1 && state.alignedHover === -1) return null;
  return { hover: -1, alignedHover: -1, redraw: "paint" };
}

/**
 * The `query` trait after a click on the large view: pins the hovered token; a click on the
 * pinned one (or outside the cells) unpins (-1). null in aligned mode (no query to pin).
 */
export function queryAfterClick(mode, hover, query) {
  if (mode === "aligned") return null;
  return hover < 0 || hover === query ? -1 : hover;
}

/** Canvas pixel (x, y) under a mouse event (the CSS size may differ from the canvas size). */
export function canvasPoint(canvas, ev) {
  const r = canvas.getBoundingClientRect();
  const sx = canvas.width / (r.width || canvas.width);
  const sy = canvas.height / (r.height || canvas.height);
  return { x: (ev.clientX - r.left) * sx, y: (ev.clientY - r.top) * sy };
}

function apply(app, next, cell) {
  if (!next) return;
  app.hover = next.hover;
  app.alignedHover = next.alignedHover;
  app.view.root.dataset.hoverCell = String(cell);
  if (next.redraw === "paint") paint(app);
  else updateReadout(app);
}

/** Hover handling of one canvas (isFocus: the large view, else a small multiple). */
export function attachPointer(app, canvas, isFocus) {
  canvas.addEventListener("mousemove", (ev) => {
    const mode = app.model.get("mode");
    const { x, y } = canvasPoint(canvas, ev);
    const t = canvasLayout(app.structure, mode, isFocus).tokenAt(x, y);
    apply(app, pointerMove(app, mode, t, app.model.get("query") >= 0), t);
  });
  canvas.addEventListener("mouseleave", () => apply(app, pointerLeave(app), -1));
}

/** A click on the large view pins or unpins the hovered query. */
export function attachPinning(app, canvas) {
  canvas.addEventListener("click", () => {
    const q = queryAfterClick(app.model.get("mode"), app.hover, app.model.get("query"));
    if (q !== null) setTrait(app.model, "query", q);
  });
}
