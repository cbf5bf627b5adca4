// The explorer's colour scale: which attention value the top of the colour map stands for in
// each map (the `scale` trait: "map", "layer" or "absolute"; the kernel's `_scales` lists them)
// and the words of the colour bar. Values are attention probabilities (0..1), shown as %.
//   map       each map from 0 to its own largest patch value (prefix cells clip at the top)
//   layer     every head's map of the layer to one maximum: the largest patch value any of the
//             maps shown holds (for the shown query; the aligned maps: over every offset)
//   absolute  0 to 1 (100 %) for every map
// With the log box on, DECADES orders of magnitude below the top map to the bottom.

import { maxFrom } from "../attention.js";
import { pct } from "./readout.js";

/** Orders of magnitude the log scale spans below its top. */
export const DECADES = 3;

/** Words of each scale in the colour bar's top label. */
const TOP_WORD = { map: "max", layer: "layer max", absolute: "" };

/**
 * A map's own top: its largest patch value (values[from:]), else its largest value when the
 * patches are all 0 (as attention.js scaleValues).
 * @param {Float32Array} values N values
 * @param {number} from first patch token (P)
 */
export function mapMax(values, from) {
  return maxFrom(values, from) || maxFrom(values, 0);
}

/**
 * The top of the colour map of each of several maps shown together.
 * @param {string} scale "map" | "layer" | "absolute"
 * @param {number[]} maxima each map's own top (mapMax)
 * @returns {number[]} the value each map's brightest colour stands for
 */
export function mapScales(scale, maxima) {
  if (scale === "map") return maxima.slice();
  if (scale === "layer") {
    const top = maxima.reduce((m, v) => (v > m ? v : m), 0);
    return maxima.map(() => top);
  }
  if (scale === "absolute") return maxima.map(() => 1);
  throw new Error(`unknown scale ${JSON.stringify(scale)} (known: ${Object.keys(TOP_WORD).join(", ")})`);
}

/**
 * The top of a map drawn on a scale of its own whatever the shared scale (the rollout, a
 * different quantity from the heads' rows): its own maximum, or 1 on the absolute scale.
 */
export function ownScale(scale, max) {
  return scale === "absolute" ? 1 : max;
}

/**
 * Words of the colour bar of a map whose top is vmax.
 * @param {object} o
 * @param {number} o.vmax value of the top colour (0..1)
 * @param {boolean} o.logScale
 * @param {string} o.scale "map" | "layer" | "absolute"
 * @param {string} [o.what] what the bar describes, for its tooltip (e.g. "head 2")
 * @returns {{low: string, high: string, title: string}} low / high: the texts at the ends
 */
export function legendText({ vmax, logScale, scale, what = "the large view", decades = DECADES }) {
  const log = logScale ? " (log)" : "";
  if (!(vmax > 0)) return { low: "0%", high: "all 0", title: `${what}: every value is 0` };
  const low = logScale ? `${pct(vmax / 10 ** decades)}` : "0%";
  const word = TOP_WORD[scale] ?? "max";
  const high = `${word ? `${word} ` : ""}${pct(vmax)}${log}`;
  const how = {
    map: "its own largest patch value",
    layer: "the largest patch value of every head's map in this layer",
    absolute: "100 % attention",
  }[scale] ?? "its largest value";
  const bottom = logScale ? `${decades} decades below (log10; lower values look like the bottom)` : "0";
  return { low, high, title: `Colour of ${what}: from ${bottom} to ${how} (${pct(vmax)})` };
}
