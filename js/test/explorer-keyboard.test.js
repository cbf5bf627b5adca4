import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel } from "./helpers.js";
import { keyChange, attachKeyboard } from "../src/explorer/keyboard.js";

before(() => installDom());

const at = { layer: 1, head: 0, numLayers: 3, numHeads: 4 };

test("keys map to trait changes", () => {
  assert.deepEqual(keyChange("ArrowRight", at), { name: "layer", value: 2 });
  assert.deepEqual(keyChange("ArrowUp", at), { name: "layer", value: 2 });
  assert.deepEqual(keyChange("ArrowLeft", at), { name: "layer", value: 0 });
  assert.deepEqual(keyChange("ArrowDown", at), { name: "layer", value: 0 });
  assert.deepEqual(keyChange("ArrowRight", { ...at, layer: 2 }), { name: "layer", value: 2 }, "clamped at the last layer");
  assert.deepEqual(keyChange("ArrowLeft", { ...at, layer: 0 }), { name: "layer", value: 0 }, "clamped at 0");
  assert.deepEqual(keyChange("]", at), { name: "head", value: 1 });
  assert.deepEqual(keyChange("[", at), { name: "head", value: 3 }, "wraps to the last head");
  assert.deepEqual(keyChange("]", { ...at, head: 3 }), { name: "head", value: 0 }, "wraps to head 0");
  assert.deepEqual(keyChange("Escape", at), { name: "query", value: -1 });
  assert.equal(keyChange("a", at), null);
});

test("keys on the root change traits; keys in form controls do not", () => {
  const model = new FakeModel({ layer: 0, head: 0, num_layers: 3, num_heads: 2, query: 5 });
  const root = document.createElement("div");
  const input = document.createElement("input");
  root.appendChild(input);
  attachKeyboard(root, model);
  const ev = new window.KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true, cancelable: true });
  root.dispatchEvent(ev);
  assert.equal(model.get("layer"), 1);
  assert.equal(ev.defaultPrevented, true);
  input.dispatchEvent(new window.KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
  assert.equal(model.get("layer"), 1, "the input keeps its arrow keys");
  root.dispatchEvent(new window.KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
  assert.equal(model.get("query"), -1);
  const other = new window.KeyboardEvent("keydown", { key: "x", bubbles: true, cancelable: true });
  root.dispatchEvent(other);
  assert.equal(other.defaultPrevented, false);
});
