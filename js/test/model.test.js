import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeModel } from "./helpers.js";
import { setTrait, setTraits, listen, headKey } from "../src/model.js";

test("setTrait syncs a changed value once and skips an unchanged one", () => {
  const model = new FakeModel({ layer: 0 });
  assert.equal(setTrait(model, "layer", 2), true);
  assert.equal(model.get("layer"), 2);
  assert.equal(model.saves, 1);
  assert.equal(setTrait(model, "layer", 2), false);
  assert.equal(model.saves, 1, "no save for an unchanged value");
});

test("setTraits sets in order and saves once", () => {
  const model = new FakeModel({ layer: 0, head: 0 });
  const seen = [];
  model.on("change:layer", () => seen.push(["layer", model.get("head")]));
  model.on("change:head", () => seen.push(["head", model.get("layer")]));
  assert.equal(setTraits(model, { layer: 1, head: 2 }), true);
  assert.deepEqual(seen, [["layer", 0], ["head", 1]]);
  assert.equal(model.saves, 1);
  assert.equal(setTraits(model, { layer: 1, head: 2 }), false);
  assert.equal(model.saves, 1);
  setTraits(model, { layer: 1, head: 0 });
  assert.deepEqual(seen.at(-1), ["head", 1]);
  assert.equal(model.saves, 2);
});

test("listen subscribes a table of handlers; off() removes them all", () => {
  const model = new FakeModel({ a: 0, b: 0 });
  const calls = [];
  const off = listen(model, [["change:a change:b", () => calls.push("ab")], ["change:b", () => calls.push("b")]]);
  model.set("a", 1);
  model.set("b", 1);
  assert.deepEqual(calls, ["ab", "ab", "b"]);
  off();
  model.set("a", 2);
  model.set("b", 2);
  assert.equal(calls.length, 3);
});

test("listen subscribes each event name on its own, for hosts that do not split them (marimo)", () => {
  // marimo's model keeps one listener set per exact event string, as this stand-in does
  const handlers = {};
  const literal = {
    on: (e, fn) => (handlers[e] ??= new Set()).add(fn),
    off: (e, fn) => handlers[e]?.delete(fn),
    emit: (e) => [...(handlers[e] ?? [])].forEach((fn) => fn()),
  };
  const calls = [];
  const off = listen(literal, [["change:layer  change:head", () => calls.push("sel")]]);
  literal.emit("change:head");
  literal.emit("change:layer");
  assert.deepEqual(calls, ["sel", "sel"]);
  assert.deepEqual(Object.keys(handlers).sort(), ["change:head", "change:layer"]);
  off();
  literal.emit("change:head");
  assert.equal(calls.length, 2);
});

test("head keys match the kernel's dict keys", () => {
  assert.equal(headKey(3, 11), "3:11");
});
