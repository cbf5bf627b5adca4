import { test } from "node:test";
import assert from "node:assert/strict";
import { cellLabel, exactnessText, loadingText, patchText, readoutText, ruleText, wrapWords } from "../src/features/readout.js";

const exact = { dims: 768, full_dims: 768, cosine_error: 0.000977, foreground_rule: "foreground: PC1 > 0", border_foreground: 0.125, k: 3 };

test("labels say the image, then its match (mutual or not) or its brightest cosine", () => {
  assert.equal(cellLabel(2, { maxCos: 0.8312 }), "image 2 · max 0.83");
  assert.equal(cellLabel(2, { maxCos: 0.8, match: { similarity: 0.756, mutual: true } }), "image 2 · 0.76 mutual ↔");
  assert.equal(cellLabel(1, { match: { similarity: 0.5, mutual: false } }), "image 1 · 0.50 one-way →");
  assert.equal(cellLabel(0, { isSource: true, maxCos: 1 }), "image 0 · selected patch");
});

test("the readout says how exact the browser's cosines are", () => {
  assert.equal(exactnessText(exact), "cosines of all 768 dims (float16: within 0.00098)");
  assert.equal(exactnessText({ dims: 128, full_dims: 1024, cosine_error: 0.0412 }), "cosines from the top 128 of 1024 PCA dims (within 0.041 of the exact ones)");
  assert.equal(patchText(17, 14), "(1, 3)");
  assert.match(readoutText({ shown: { image: 1, patch: 17 }, range: [-0.2, 1], data: exact, gw: 14, pinned: false }), /^hovered: image 1, patch \(1, 3\) · colours: cosine -0.20 … 1.00 · cosines of all 768/);
  assert.match(readoutText({ shown: null, data: exact }), /^hover a patch/);
  assert.equal(readoutText({ shown: null, data: null }), "");
});

test("the rule line states the foreground rule and what the panel shows", () => {
  assert.equal(ruleText(exact, "foreground"), "foreground: PC1 > 0 · 13 % of border patches are foreground");
  assert.match(ruleText(exact, "clusters"), /k = 3/);
  assert.match(ruleText(exact, "pca"), /red, green, blue · foreground: PC1 > 0$/);
  assert.equal(loadingText({ layer: 3, facet: "keys", k: 4 }), "computing block 3 (keys, k = 4) in the kernel…");
});

test("long lines are cut at spaces for the PNG's text column", () => {
  assert.deepEqual(wrapWords("foreground: first principal component > 0", 16), ["foreground:", "first principal", "component > 0"]);
  assert.deepEqual(wrapWords("a verylongwordindeed b", 5), ["a", "verylongwordindeed", "b"]);
  assert.deepEqual(wrapWords("", 10), []);
});
