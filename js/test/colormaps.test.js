import { test } from "node:test";
import assert from "node:assert/strict";
import { colormapLut, lutIndex, colormapCss, knownColormaps } from "../src/colormaps.js";

test("end points are matplotlib's", () => {
  const v = colormapLut("viridis");
  assert.deepEqual([...v.slice(0, 3)], [0x44, 0x01, 0x54]);
  assert.deepEqual([...v.slice(255 * 3)], [0xfd, 0xe7, 0x25]);
  const m = colormapLut("magma");
  assert.deepEqual([...m.slice(255 * 3)], [0xfc, 0xfd, 0xbf]);
});

test("perceptual maps get brighter along the scale; gray is linear", () => {
  const luma = (lut, i) => 0.2126 * lut[3 * i] + 0.7152 * lut[3 * i + 1] + 0.0722 * lut[3 * i + 2];
  for (const name of ["viridis", "magma", "inferno", "gray"]) {
    const lut = colormapLut(name);
    assert.equal(lut.length, 768);
    for (let i = 8; i < 256; i += 8) assert.ok(luma(lut, i) > luma(lut, i - 8) - 1e-9, `${name} at ${i}`);
  }
  const g = colormapLut("gray");
  for (let i = 0; i < 256; i++) assert.equal(g[3 * i], i);
  assert.deepEqual(knownColormaps(), ["viridis", "magma", "inferno", "gray"]);
});

test("index clamping and errors", () => {
  assert.equal(lutIndex(-1), 0);
  assert.equal(lutIndex(NaN), 0);
  assert.equal(lutIndex(2), 255);
  assert.equal(lutIndex(0.5), 128);
  assert.equal(colormapCss("gray", 1), "rgb(255, 255, 255)");
  assert.throws(() => colormapLut("jet"), /unknown colour map/);
  assert.throws(() => colormapLut("jet"), { message: 'unknown colour map "jet" (known: viridis, magma, inferno, gray)' });
  assert.throws(() => colormapLut("toString"), /unknown colour map "toString"/);
});
