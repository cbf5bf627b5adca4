import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeModel, layerDataReply, tick } from "./helpers.js";
import { createRpc } from "../src/rpc.js";
import {
  CACHE_BYTES, PREFETCH_MAX_BYTES, selectionOf, extraPart, partKey, createLru, createByteLru, entryBytes, missingParts,
  cachedParts, storeEntries, entriesOfReply, selectionKeys, prefetchable, layerDataParams, neighbourLayers, createLoader,
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
});

const f32 = (n) => ({ form: "dense", attention: new Float32Array(n) }); // 4n bytes

test("entryBytes sums the typed arrays of an entry", () => {
  assert.equal(entryBytes({ form: "qk", q: new Float32Array(6), k: new Float32Array(6), lse: new Float32Array(2), d: 3, wireBytes: 99 }), 56);
  assert.equal(entryBytes({ form: "kernel" }), 0);
  assert.equal(entryBytes(null), 0);
  assert.equal(CACHE_BYTES, 256 * 1024 * 1024);
  assert.equal(PREFETCH_MAX_BYTES, 2 * 1024 * 1024);
});

test("the byte LRU evicts the least recent entries until the bytes fit", () => {
  const lru = createByteLru(100);
  lru.set("a", f32(10)); // 40 bytes
  lru.set("b", f32(10));
  assert.equal(lru.bytes, 80);
  lru.get("a"); // a is now the most recent
  lru.set("c", f32(5)); // 100 bytes: fits exactly
  assert.deepEqual(lru.keys(), ["b", "a", "c"]);
  lru.set("d", f32(5)); // 120 > 100: evicts b
  assert.deepEqual(lru.keys(), ["a", "c", "d"]);
  assert.equal(lru.bytes, 80);
  lru.set("a", f32(1)); // replacing an entry counts its new size only
  assert.equal(lru.bytes, 44);
  lru.clear();
  assert.deepEqual([lru.size, lru.bytes], [0, 0]);
});

test("an entry bigger than the capacity is kept only while protected (the current selection)", () => {
  const lru = createByteLru(100);
  lru.set("small", f32(5));
  assert.equal(lru.set("huge", f32(100)), false, "400 bytes, unprotected: not kept");
  assert.deepEqual(lru.keys(), ["small"], "and nothing else was evicted for it");
  lru.protect(["huge"]);
  assert.equal(lru.set("huge", f32(100)), true);
  assert.equal(lru.get("huge").attention.length, 100);
  assert.deepEqual(lru.keys(), ["huge"], "unprotected entries make room");
  lru.set("other", f32(5));
  assert.deepEqual(lru.keys(), ["huge"], "over budget: the new unprotected entry goes too");
  lru.protect(["next"]); // the selection moved on
  assert.deepEqual(lru.keys(), []);
  assert.equal(lru.bytes, 0);
});

test("selectionKeys names every part of the selection's layer", () => {
  assert.deepEqual(selectionKeys({ image: 1, layer: 2, mode: "row" }), ["attention:1:2", "rollout:1:2", "aligned:1:2"]);
});

test("replies become entries per form; a missing form is dense", () => {
  const a = new Float32Array(8);
  const dense = entriesOfReply({ arrays: [{ name: "attention", shape: [2, 2, 2] }] }, { attention: a }, ["attention"], 16);
  assert.deepEqual(dense, { attention: { form: "dense", attention: a, wireBytes: 16 } });
  const q = new Float32Array(12), k = new Float32Array(12), lse = new Float32Array(4);
  const qk = entriesOfReply({ attention_form: "qk", head_dim: 3 }, { q, k, lse }, ["attention"], 64);
  assert.deepEqual(qk.attention, { form: "qk", q, k, lse, d: 3, wireBytes: 64 });
  const fromShape = entriesOfReply({ attention_form: "qk", arrays: [{ name: "q", shape: [2, 2, 3] }] }, { q, k, lse }, ["attention"]);
  assert.equal(fromShape.attention.d, 3, "head_dim missing: d from q's shape");
  const kernel = entriesOfReply({ attention_form: "kernel", rollout_form: "kernel" }, {}, ["attention", "rollout"], 0);
  assert.deepEqual(kernel, { attention: { form: "kernel", wireBytes: 0 }, rollout: { form: "kernel", wireBytes: 0 } });
  const r = new Float32Array(4);
  assert.deepEqual(entriesOfReply({}, { rollout: r }, ["rollout"], 8).rollout, { form: "dense", rollout: r, wireBytes: 8 });
  assert.deepEqual(entriesOfReply({}, { aligned: r }, ["aligned"], 8).aligned, { form: "dense", aligned: r, wireBytes: 8 });
  assert.throws(() => entriesOfReply({ attention_form: "sparse" }, {}, ["attention"]), /unknown attention_form "sparse" \(known: dense, qk, kernel\)/);
  assert.throws(() => entriesOfReply({ attention_form: "qk" }, { q }, ["attention"]), /needs arrays q, k and lse/);
  assert.throws(() => entriesOfReply({}, {}, ["attention"]), /the reply carries no "attention" array/);
  assert.throws(() => entriesOfReply({ rollout_form: "qk" }, {}, ["rollout"]), /unknown rollout_form "qk"/);
});

test("neighbours are prefetched after small dense or qk replies only", () => {
  assert.equal(prefetchable({ form: "dense", wireBytes: 1000 }), true);
  assert.equal(prefetchable({ form: "qk", wireBytes: PREFETCH_MAX_BYTES - 1 }), true);
  assert.equal(prefetchable({ form: "qk", wireBytes: PREFETCH_MAX_BYTES }), false);
  assert.equal(prefetchable({ form: "kernel", wireBytes: 0 }), false);
  assert.equal(prefetchable(undefined), false);
});

test("a selection misses attention and the part its mode needs", () => {
  const cache = createByteLru(1000);
  const sel = (mode) => ({ image: 1, layer: 2, mode });
  assert.deepEqual(missingParts(cache, sel("row")), ["attention"]);
  assert.deepEqual(missingParts(cache, sel("rollout")), ["attention", "rollout"]);
  assert.deepEqual(missingParts(cache, sel("aligned")), ["attention", "aligned"]);
  const attention = { form: "kernel" };
  storeEntries(cache, sel("row"), { attention, rollout: undefined, aligned: undefined });
  assert.deepEqual(cache.keys(), ["attention:1:2"]);
  for (const m of ["row", "column", "cls"]) assert.deepEqual(missingParts(cache, sel(m)), []);
  assert.deepEqual(missingParts(cache, sel("aligned")), ["aligned"]);
  assert.deepEqual(cachedParts(cache, sel("aligned")), { attention, extra: null });
  const aligned = { form: "dense", aligned: new Float32Array(2) };
  storeEntries(cache, sel("aligned"), { aligned });
  assert.deepEqual(missingParts(cache, sel("aligned")), []);
  assert.equal(cachedParts(cache, sel("aligned")).extra, aligned);
  assert.equal(cachedParts(cache, sel("row")).extra, null);
  assert.deepEqual(cachedParts(cache, sel("row")), { attention, extra: null });
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
function setup({ numLayers = 3, delay = 1, form = undefined, capacity = CACHE_BYTES } = {}) {
  const model = new FakeModel({ image_index: 0, layer: 0, mode: "row" });
  const events = [];
  model.onSend = (msg) => setTimeout(() => {
    const include = form === "kernel" ? msg.params.include.filter((p) => p !== "attention") : msg.params.include;
    const parts = include.map((name) => ({ name, shape: [2], values: [msg.params.layer, 1] }));
    const [content, buffers] = layerDataReply(msg.id, parts);
    if (form) content.result.attention_form = form;
    model.emit("msg:custom", content, buffers);
  }, delay);
  const cache = createByteLru(capacity);
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
  assert.deepEqual([...cache.get("attention:0:1").attention], [1, 1]);
  assert.equal(cache.get("attention:0:1").wireBytes, 4);
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

test("a kernel-form layer is cached as such and its neighbours are not prefetched", async () => {
  const { cache, loader, events, rpc, params } = setup({ form: "kernel" });
  loader.ensure();
  await tick(20);
  assert.deepEqual(events, ["loading 0", "ready 0 row"]);
  assert.deepEqual(params(), [{ image: 0, layer: 0, mode: "row", include: ["attention"] }], "no prefetch");
  assert.deepEqual(cache.get("attention:0:0"), { form: "kernel", wireBytes: 0 });
  rpc.dispose();
});

test("the selection's layer is used even when bigger than the cache, and dropped once it moves on", async () => {
  const { model, cache, loader, events, rpc } = setup({ capacity: 2 }); // every 8-byte entry is too big
  loader.ensure();
  await tick(20);
  assert.deepEqual(events, ["loading 0", "ready 0 row"], "no refetch loop");
  assert.deepEqual(cache.keys(), ["attention:0:0"], "prefetched neighbours are not kept");
  model.set("layer", 1);
  loader.ensure();
  assert.equal(cache.has("attention:0:0"), false);
  await tick(20);
  assert.equal(events.at(-1), "ready 1 row");
  rpc.dispose();
});
