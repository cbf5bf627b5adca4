import { test } from "node:test";
import assert from "node:assert/strict";
import { panelPixels, foregroundShare, CLUSTER_COLOURS, BACKGROUND_RGB } from "../src/features/panels.js";

// two images of two patches
const data = {
  pca: new Float32Array([1, 0, 0.5, 0, 1, 1.2, 0.2, 0.2, 0.2, 0, 0, -1]),
  foreground: new Float32Array([0.7, -0.1, 0, 3]),
  clusters: new Float32Array([0, 17, 2, 1]),
};

test("the PCA panel is the components as RGB, clamped to 0..255", () => {
  assert.deepEqual([...panelPixels("pca", data, 0, 2)], [255, 0, 128, 255, 0, 255, 255, 255]);
});

test("the foreground panel keeps PCA colours where the score is positive, background elsewhere", () => {
  assert.deepEqual([...panelPixels("foreground", data, 0, 2)], [255, 0, 128, 255, ...BACKGROUND_RGB, 255]);
  assert.deepEqual([...panelPixels("foreground", data, 1, 2)].slice(0, 4), [...BACKGROUND_RGB, 255]); // 0 is not > 0
  assert.equal(foregroundShare(data.foreground, 0, 2), 0.5);
  assert.equal(foregroundShare(data.foreground, 1, 2), 0.5);
});

test("the cluster panel gives each label its colour, the same in every image", () => {
  const hex = (i) => [1, 3, 5].map((k) => parseInt(CLUSTER_COLOURS[i].slice(k, k + 2), 16));
  assert.deepEqual([...panelPixels("clusters", data, 0, 2)], [...hex(0), 255, ...hex(17 % 16), 255]);
  assert.deepEqual([...panelPixels("clusters", data, 1, 2)], [...hex(2), 255, ...hex(1), 255]);
  assert.equal(new Set(CLUSTER_COLOURS).size, 16);
});
