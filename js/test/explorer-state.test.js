import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeModel, layerDataReply, tick } from "./helpers.js";
import { createRpc } from "../src/rpc.js";
import {
  CACHE_ENTRIES, selectionOf, extraPart, partKey, createLru, missingParts, cachedArrays, storeArrays,
  layerDataParams, neighbourLayers, createLoader,
} from "../src/explorer/state.js";

test("the LRU evicts the least recently set or read entry", () => {
  const lru = createLru(3);
  lru.set("a", 1);
  lru.set("b", 2);
  lru.set("c", 3);
  assert.equal(lru.get("a"), 1); // a is now the most recent
  lru.set("d", 4); // evicts b
  assert.deepEqual(lru.keys(), ["c", "a", "d"]);
  lru.set("c", 30); // re-set moves c to the end
  lru.set("e", 5); // evicts a
  assert.deepEqual(lru.keys(), ["d", "c", "e"]);
  assert.equal(lru.has("a"), false);
  assert.equal(lru.get("a"), undefined);
  assert.equal(lru.get("c"), 30);
  assert.equal(lru.size, 3);
  lru.clear();
  assert.equal(lru.size, 0);
  assert.equal(CACHE_ENTRIES, 24);
});

test("a selection misses attention and the part its mode needs", () => {
  const cache = createLru(10);
  const sel = (mode) => ({ image: 1, layer: 2, mode });
  assert.deepEqual(missingParts(cache, sel("row")), ["attention"]);
  assert.deepEqual(missingParts(cache, sel("rollout")), ["attention", "rollout"]);
  assert.deepEqual(missingParts(cache, sel("aligned")), ["attention", "aligned"]);
  storeArrays(cache, sel("row"), { attention: new Float32Array(1), rollout: undefined, aligned: undefined });
  assert.deepEqual(cache.keys(), ["attention:1:2"]);
  for (const m of ["row", "column", "cls"]) assert.deepEqual(missingParts(cache, sel(m)), []);
  assert.deepEqual(missingParts(cache, sel("aligned")), ["aligned"]);
  assert.equal(cachedArrays(cache, sel("aligned")), null);
  storeArrays(cache, sel("aligned"), { aligned: new Float32Array(2) });
  assert.deepEqual(missingParts(cache, sel("aligned")), []);
  assert.equal(cachedArrays(cache, sel("aligned")).extra.length, 2);
  assert.equal(cachedArrays(cache, sel("row")).extra, null);
  assert.deepEqual(missingParts(cache, { image: 0, layer: 2, mode: "row" }), ["attention"], "another image");
});

test("selection, parts, params and neighbours", () => {
  const model = new FakeModel({ image_index: 3, layer: 4, mode: "cls" });
  assert.deepEqual(selectionOf(model), { image: 3, layer: 4, mode: "cls" });
  assert.deepEqual(["row", "column", "cls", "rollout", "aligned"].map(extraPart), [null, null, null, "rollout", "aligned"]);
  assert.equal(partKey("rollout", 0, 5), "rollout:0:5");
  assert.deepEqual(layerDataParams({ image: 1, layer: 2, mode: "aligned" }, ["aligned"]), { image: 1, layer: 2, mode: "aligned", include: ["aligned"] });
  assert.deepEqual(neighbourLayers(0, 3), [1]);
  assert.deepEqual(neighbourLayers(1, 3), [2, 0]);
  assert.deepEqual(neighbourLayers(2, 3), [1]);
  assert.deepEqual(neighbourLayers(0, 1), []);
});

/** A loader over a fake kernel that answers after `delay` ms; returns what it saw. */
function setup({ numLayers = 3, delay = 1 } = {}) {
  const model = new FakeModel({ image_index: 0, layer: 0, mode: "row" });
  const events = [];
  model.onSend = (msg) => setTimeout(() => {
    const parts = msg.params.include.map((name) => ({ name, shape: [2], values: [msg.params.layer, 1] }));
    model.emit("msg:custom", ...layerDataReply(msg.id, parts));
  }, delay);
  const cache = createLru(CACHE_ENTRIES);
  const rpc = createRpc(model, { timeoutMs: 1000 });
  const loader = createLoader({
    rpc, cache, selection: () => selectionOf(model), numLayers: () => numLayers,
    onLoading: (sel) => events.push(`loading ${sel.layer}`), onReady: (sel) => events.push(`ready ${sel.layer} ${sel.mode}`),
    onError: (err) => events.push(`error ${err.message}`),
  });
  return { model, cache, loader, events, rpc, params: () => model.sent.map((m) => m.params) };
}

test("the loader fetches what is missing, then prefetches the neighbours' attention", async () => {
  const { model, cache, loader, events, rpc, params } = setup();
  loader.ensure();
  loader.ensure(); // same selection in flight: no second request
  assert.deepEqual(params(), [{ image: 0, layer: 0, mode: "row", include: ["attention"] }]);
  await tick(10);
  assert.deepEqual(events, ["loading 0", "ready 0 row"]);
  assert.deepEqual(params().slice(1), [{ image: 0, layer: 1, mode: "row", include: ["attention"] }]);
  await tick(10);
  assert.deepEqual(cache.keys(), ["attention:0:0", "attention:0:1"]);
  assert.deepEqual([...cache.get("attention:0:1")], [1, 1]);
  model.set("mode", "aligned");
  loader.ensure();
  assert.deepEqual(params().at(-1), { image: 0, layer: 0, mode: "aligned", include: ["aligned"] });
  await tick(10);
  assert.equal(events.at(-1), "ready 0 aligned");
  rpc.dispose();
});

test("moving away drops the request locally (no cancel message) and ignores its late reply", async () => {
  const { model, cache, loader, events, rpc } = setup({ delay: 5 });
  loader.ensure();
  model.set("layer", 2);
  loader.ensure();
  assert.deepEqual(model.sent.map((m) => m.kind), ["request", "request"]);
  await tick(30);
  assert.deepEqual(events, ["loading 0", "loading 2", "ready 2 row"]);
  assert.equal(cache.has("attention:0:0"), false, "the dropped request's reply is not stored");
  rpc.dispose();
});

test("an error reply or an undecodable reply reaches onError", async () => {
  const { model, loader, events, rpc } = setup();
  model.onSend = (msg) => setTimeout(() => model.emit("msg:custom", { kind: "reply", id: msg.id, ok: false, error: "ValueError: broken" }), 1);
  loader.ensure();
  await tick(10);
  assert.deepEqual(events, ["loading 0", "error ValueError: broken"]);
  model.onSend = (msg) => setTimeout(() => model.emit("msg:custom", { kind: "reply", id: msg.id, ok: true, result: { arrays: [] } }, [new DataView(new ArrayBuffer(2))]), 1);
  loader.ensure();
  await tick(10);
  assert.equal(events.at(-1), "error the reply describes 0 arrays but carries 1 buffers");
  rpc.dispose();
});
