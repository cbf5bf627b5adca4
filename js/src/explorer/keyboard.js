// Keys of the focused explorer: ArrowRight/ArrowUp = next layer, ArrowLeft/ArrowDown =
// previous layer, "]" / "[" = next / previous head (wrapping), Escape = unpin the query.

import { setTrait } from "../model.js";

/**
 * The trait change a key asks for.
 * @param {string} key KeyboardEvent.key
 * @param {{layer: number, head: number, numLayers: number, numHeads: number}} at
 * @returns {{name: string, value: number}|null} null for keys the explorer leaves alone
 */
export function keyChange(key, { layer, head, numLayers, numHeads }) {
  switch (key) {
    case "ArrowRight": case "ArrowUp": return { name: "layer", value: Math.min(numLayers - 1, layer + 1) };
    case "ArrowLeft": case "ArrowDown": return { name: "layer", value: Math.max(0, layer - 1) };
    case "]": return { name: "head", value: (head + 1) % numHeads };
    case "[": return { name: "head", value: (head + numHeads - 1) % numHeads };
    case "Escape": return { name: "query", value: -1 };
    default: return null;
  }
}

/** Keys on the root (or a canvas) change traits; form controls keep theirs. A mouse-down on a canvas focuses the root. */
export function attachKeyboard(root, model) {
  root.addEventListener("keydown", (ev) => {
    if (ev.target !== root && ev.target.tagName !== "CANVAS") return; // leave form controls alone
    const change = keyChange(ev.key, {
      layer: model.get("layer"), head: model.get("head"), numLayers: model.get("num_layers"), numHeads: model.get("num_heads"),
    });
    if (!change) return;
    setTrait(model, change.name, change.value);
    ev.preventDefault();
    ev.stopPropagation();
  });
  // focus the widget on pointer entry so arrow keys work without an extra click
  root.addEventListener("mousedown", (ev) => {
    if (ev.target.tagName === "CANVAS") root.focus({ preventScroll: true });
  });
}
