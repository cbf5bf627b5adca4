// DepthProfile data as curves, in known numbers: depths of sub-layer latents, the relative
// axis, the block under a depth, the best block, the panels shown and their frames.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PANELS, PANEL, shownPanels, blockDepths, toAxis, blockAt, xDomain, markerOf, depthName, seriesOf, panelLayout, frameAt,
  numberText, hoverText,
} from "../src/depth/series.js";

const panel = (id) => PANELS.find((p) => p.id === id);
// 2 blocks, sub-layer latents: embedding, attn 0, mlp 0, attn 1, mlp 1
const A = {
  name: "A", num_layers: 2, sub_layers: true, depths: [-1, -0.5, 0, 0.5, 1],
  high_frequency: [0, -1, -0.5, -1.2, -0.4], variance: [1, 2, 3, 4, 5], distance_px: [10, 20], nmi: [0.1, 0.2],
  similarity: [0.3, 0.4, 0.5], knn: [0.5, 0.75], knn_best: 1, probe: null, probe_best: -1,
};
const B = { ...A, name: "B", num_layers: 4, depths: [-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3], variance: [1, 2, 3, 4, 5, 6, 7, 8, 9], distance_px: [10, 20, 30, 40], knn: null, knn_best: -1 };

test("the probe panels show only with labels", () => {
  assert.deepEqual(shownPanels([A]).map((p) => p.id), ["high_frequency", "variance", "distance_px", "nmi", "similarity", "knn"]);
  assert.deepEqual(shownPanels([{ ...A, knn: null }]).map((p) => p.id), ["high_frequency", "variance", "distance_px", "nmi", "similarity"]);
});

test("depths: latents from the kernel, the residual stream from -1, blocks from 0", () => {
  assert.deepEqual(blockDepths(A, panel("variance")), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(blockDepths(A, panel("similarity")), [-1, 0, 1]);
  assert.deepEqual(blockDepths(A, panel("nmi")), [0, 1]);
});

test("relative depth: 0 the embedding, 1 the last block; the nearest block of a depth", () => {
  assert.equal(toAxis(-1, 12, "relative"), 0);
  assert.equal(toAxis(11, 12, "relative"), 1);
  assert.equal(toAxis(5, 12, "block"), 5);
  assert.equal(blockAt(0.5, 12, "relative"), 5);
  assert.equal(blockAt(3.4, 12, "block"), 3);
  assert.equal(blockAt(-1, 12, "block"), 0, "the embedding clicks to block 0");
  assert.equal(blockAt(99, 12, "block"), 11);
  assert.deepEqual(xDomain([A, B], "block"), [-1, 3]);
  assert.deepEqual(xDomain([A, B], "relative"), [0, 1]);
});

test("markers: after attention a circle, after the MLP a square, the embedding a diamond", () => {
  const v = panel("variance");
  assert.deepEqual([-1, -0.5, 0, 2.5, 3].map((d) => markerOf(d, v)), ["diamond", "circle", "square", "circle", "square"]);
  assert.equal(markerOf(2, panel("nmi")), "circle");
  assert.deepEqual([-1, 2.5, 3].map(depthName), ["embedding", "block 3 after attention", "block 3"]);
});

test("a series on the relative axis and the best block of the k-NN", () => {
  const s = seriesOf(A, panel("knn"), "relative");
  assert.deepEqual(s.points.map((p) => p.x), [0.5, 1]);
  assert.deepEqual(s.best, { x: 1, y: 0.75, block: 1 });
  assert.equal(seriesOf(A, panel("nmi"), "block").best, null);
  assert.deepEqual(seriesOf(B, panel("variance"), "relative").points.map((p) => p.x), [0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1]);
});

test("panels in two columns under the legend; the frame under a pixel", () => {
  const L = panelLayout(5);
  const cw = PANEL.left + PANEL.w + PANEL.right, ch = PANEL.top + PANEL.h + PANEL.bottom;
  assert.deepEqual(L.frames[0], { x: PANEL.left, y: PANEL.legend + PANEL.top, w: PANEL.w, h: PANEL.h });
  assert.deepEqual(L.frames[3], { x: cw + PANEL.left, y: PANEL.legend + ch + PANEL.top, w: PANEL.w, h: PANEL.h });
  assert.deepEqual([L.width, L.height], [2 * cw, PANEL.legend + 3 * ch]);
  assert.equal(frameAt(L.frames, L.frames[3].x + 1, L.frames[3].y + 1), 3);
  assert.equal(frameAt(L.frames, 1, 1), -1);
});

test("the readout gives every model's nearest entry", () => {
  assert.equal(numberText(34.234), "34.2");
  assert.equal(numberText(0.001234), "0.00123");
  assert.equal(numberText(NaN), "–");
  assert.equal(hoverText([A, B], ["A", "B"], panel("distance_px"), 0.9, "block"), "mean attention distance (px): A block 1 20.0 · B block 1 20.0");
  assert.equal(hoverText([A], ["A"], panel("variance"), -0.4, "block"), "feature-map variance: A block 0 after attention 2.00");
});
