import { test } from "node:test";
import assert from "node:assert/strict";
import { DECADES, mapMax, mapScales, ownScale, legendText } from "../src/explorer/scale.js";

test("a map's own top is its largest patch value; prefix values do not count unless the patches are all 0", () => {
  assert.equal(mapMax(new Float32Array([0.9, 0.05, 0.03, 0.02]), 1), Math.fround(0.05));
  assert.equal(mapMax(new Float32Array([0.9, 0, 0, 0]), 1), Math.fround(0.9));
  assert.equal(mapMax(new Float32Array(4), 1), 0);
});

test("per map keeps each top, per layer gives every map the largest, absolute gives 1", () => {
  const maxima = [0.086, 0.5, 0.2];
  assert.deepEqual(mapScales("map", maxima), [0.086, 0.5, 0.2]);
  assert.deepEqual(mapScales("layer", maxima), [0.5, 0.5, 0.5]);
  assert.deepEqual(mapScales("absolute", maxima), [1, 1, 1]);
  assert.deepEqual(mapScales("layer", [0, 0]), [0, 0]);
  assert.throws(() => mapScales("global", maxima), /unknown scale "global" \(known: map, layer, absolute\)/);
  assert.equal(ownScale("layer", 0.3), 0.3, "the rollout keeps its own top on the layer scale");
  assert.equal(ownScale("absolute", 0.3), 1);
});

test("the colour bar says the top in % with the scale's word, and the log scale's bottom", () => {
  assert.deepEqual(
    [legendText({ vmax: 0.086, logScale: false, scale: "map" }).low, legendText({ vmax: 0.086, logScale: false, scale: "map" }).high],
    ["0%", "max 8.6%"],
  );
  assert.equal(legendText({ vmax: 0.5, logScale: false, scale: "layer" }).high, "layer max 50.0%");
  assert.equal(legendText({ vmax: 1, logScale: false, scale: "absolute" }).high, "100.0%");
  const log = legendText({ vmax: 0.5, logScale: true, scale: "map", what: "head 2" });
  assert.equal(DECADES, 3);
  assert.deepEqual([log.low, log.high], ["0.050%", "max 50.0% (log)"]);
  assert.match(log.title, /^Colour of head 2: from 3 decades below .* to its own largest patch value \(50\.0%\)$/);
  assert.match(legendText({ vmax: 0.5, logScale: false, scale: "layer" }).title, /every head's map in this layer/);
  assert.deepEqual(legendText({ vmax: 0, logScale: false, scale: "map" }).high, "all 0");
});
