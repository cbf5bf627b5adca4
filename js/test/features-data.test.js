import { test } from "node:test";
import assert from "node:assert/strict";
import { unalignedFloat16 } from "./helpers.js";
import { FakeModel } from "./helpers.js";
import { decodeLayer, layerJob, layerKey, layerSelection, matchJob, LAYER_ARRAYS } from "../src/features/data.js";

const desc = (name, shape) => ({ name, shape, dtype: "float16" });

test("a layer reply decodes every array and its grid sizes", () => {
  const result = { layer: 2, dims: 2, arrays: [desc("coords", [1, 2, 2]), desc("pca", [1, 2, 3]), desc("foreground", [1, 2]), desc("clusters", [1, 2])] };
  const buffers = [unalignedFloat16([1, 0, 0, 1]), unalignedFloat16([0, 0.5, 1, 1, 1, 1]), unalignedFloat16([0.5, -2]), unalignedFloat16([0, 1])];
  const d = decodeLayer(result, buffers);
  assert.deepEqual([...d.coords], [1, 0, 0, 1]);
  assert.deepEqual([...d.foreground], [0.5, -2]);
  assert.equal(d.G, 2);
  assert.equal(d.dims, 2);
  assert.equal(d.layer, 2);
  assert.deepEqual(LAYER_ARRAYS, ["coords", "pca", "foreground", "clusters"]);
});

test("a reply missing arrays or with unknown ones is an error that says so", () => {
  assert.throws(() => decodeLayer({ arrays: [desc("coords", [1, 1, 1])] }, [unalignedFloat16([1])]), /lacks pca, foreground, clusters/);
  assert.throws(() => decodeLayer({ arrays: [desc("attention", [1])] }, [unalignedFloat16([1])]), /unknown array "attention"/);
  assert.throws(() => decodeLayer({ arrays: [] }, [unalignedFloat16([1])]), /describes 0 arrays but carries 1/);
});

test("jobs are keyed by what their answer depends on", () => {
  const model = new FakeModel({ layer: 3, facet: "keys", k: 5 });
  assert.deepEqual(layerSelection(model), { layer: 3, facet: "keys", k: 5 });
  assert.deepEqual(layerJob(layerSelection(model), 2), { key: "3|keys|5|2", params: { layer: 3, facet: "keys", k: 5 } });
  assert.notEqual(layerKey({ layer: 3, facet: "keys", k: 5 }, 1), layerKey({ layer: 3, facet: "keys", k: 5 }, 2));
  assert.deepEqual(matchJob({ image: 1, patch: 7, layer: 3, facet: "tokens" }), { key: "1|7|3|tokens", params: { image: 1, patch: 7, layer: 3, facet: "tokens" } });
});
