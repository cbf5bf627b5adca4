import { test } from "node:test";
import assert from "node:assert/strict";
import { similarityMaps, brightest, mapRange, colourPositions } from "../src/features/similarity.js";

// two images of three patches, 2 dims: unit vectors at angles (degrees)
const deg = [0, 90, 180, 60, 0, -90];
const coords = new Float32Array(deg.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]));
const shape = { B: 2, G: 3, dims: 2 };

test("the map of a patch is its cosine to every patch of every image", () => {
  const m = similarityMaps(coords, shape, 1, 0, undefined); // the 60 degree patch
  const want = deg.map((a) => Math.cos(((a - 60) * Math.PI) / 180));
  m.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `${i}: ${v} vs ${want[i]}`));
});

test("the brightest patch of each image is its most similar one (first of ties)", () => {
  const m = similarityMaps(coords, shape, 0, 1); // the 90 degree patch
  assert.deepEqual([...brightest(m, 2, 3)], [1, 0]); // image 1: 60 deg (cos 0.87) beats 0 deg
  assert.deepEqual([...brightest(new Float32Array([1, 1, 0]), 1, 3)], [0]);
});

test("the map fills a given array and rejects a patch outside the images", () => {
  const out = new Float32Array(6);
  assert.equal(similarityMaps(coords, shape, 0, 0, out), out);
  assert.throws(() => similarityMaps(coords, shape, 2, 0), /outside 2 images of 3 patches/);
  assert.throws(() => similarityMaps(coords, { B: 2, G: 3, dims: 3 }, 0, 0), /not 2x3x3/);
});

test("colour positions span the range of the maps but the shown patch, from 0 to 1", () => {
  const maps = new Float32Array([-0.5, 0.25, 1]);
  const range = mapRange(maps);
  assert.deepEqual(range, [-0.5, 1]);
  assert.deepEqual([...colourPositions(maps, range)], [0, 0.5, 1]);
  assert.deepEqual(mapRange(new Float32Array([0.3, 0.3])).map((v) => +v.toFixed(6)), [-0.7, 0.3]);
  assert.deepEqual(mapRange(new Float32Array([1, 0.5, 0.25]), 0), [0.25, 0.5]); // the shown patch left out
  assert.deepEqual(mapRange(new Float32Array([1]), 0), [0, 1]);
});
