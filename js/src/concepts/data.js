// The ConceptMap's data, pure: the kernel's labels (`_labels`: labelled blocks, concepts with
// their categories, and per block the summary plus every unit's concept and IoU) turned into
// the bars and the unit list, the colours of the categories, and the decoded `unit_maps` reply
// (float16 maps [k, gh, gw] and the top images' PNGs).

import { decodeArray } from "../codecs.js";
import { SERIES_COLOURS } from "../chart.js";

/** Colours of Network Dissection's concept families (those of notebook 06's plots). */
export const FAMILY_COLOURS = { colour: "#e41a1c", texture: "#ff7f00", shape: "#377eb8", part: "#4daf4a", class: "#984ea3" };

/** {category: colour}: the family colours, other categories from the series colours in order. */
export function categoryColours(categories) {
  let next = 0;
  return Object.fromEntries(categories.map((c) => [c, FAMILY_COLOURS[c] ?? SERIES_COLOURS[next++ % SERIES_COLOURS.length]]));
}

/** Index of block `layer` among the labelled blocks (-1 when it was not labelled). */
export function blockPosition(labels, layer) {
  return (labels?.blocks ?? []).indexOf(layer);
}

/**
 * The labelled units of the block at position `pos`, highest IoU first (ties: lower unit first),
 * those of `category` only when given: [{unit, concept, name, category, iou}].
 */
export function unitRows(labels, pos, category = "") {
  const s = labels?.summary?.[pos];
  if (!s) return [];
  const rows = [];
  s.best.forEach((c, unit) => {
    if (c < 0) return;
    const [name, cat] = labels.concepts[c];
    if (!category || cat === category) rows.push({ unit, concept: c, name, category: cat, iou: s.iou[unit] });
  });
  return rows.sort((a, b) => b.iou - a.iou || a.unit - b.unit);
}

/** Per labelled block: {layer, shares: [share per category, in order], concepts, labelled, units}. */
export function barsOf(labels, categories) {
  return (labels?.summary ?? []).map((s) => ({
    layer: s.layer, shares: categories.map((c) => s.category_share[c] ?? 0), concepts: s.num_concepts, labelled: s.num_labelled, units: s.num_units,
  }));
}

/** The readout of a block's bar. */
export function barText(bar, categories) {
  if (!bar) return "";
  const shares = categories.map((c, i) => `${c} ${Math.round(100 * bar.shares[i])}%`).join(", ");
  return `block ${bar.layer}: ${bar.labelled} of ${bar.units} units labelled, ${bar.concepts} distinct concepts${bar.labelled ? ` (${shares})` : ""}`;
}

/** Cache key of a unit's maps. */
export function unitKey(layer, unit) {
  return `${layer}:${unit}`;
}

/**
 * Decode a `unit_maps` reply: the result plus maps (Float32Array [k, gh, gw]), k, gh, gw and
 * pngs (one DataView per image, in order).
 */
export function decodeUnit(result, buffers = []) {
  const desc = result?.arrays?.[0];
  if (desc?.name !== "maps") throw new Error("the unit_maps reply lacks its maps");
  const [k, gh, gw] = desc.shape;
  if (buffers.length !== 1 + k) throw new Error(`the unit_maps reply has ${buffers.length - 1} images for ${k} maps`);
  return { ...result, maps: decodeArray(desc, buffers[0]).data, k, gh, gw, pngs: buffers.slice(1) };
}

/** The brightest cell {row, col, value} of map j of maps [k, gh, gw] (the first of ties). */
export function brightestCell(maps, gh, gw, j) {
  let best = 0;
  for (let i = 1; i < gh * gw; i++) if (maps[j * gh * gw + i] > maps[j * gh * gw + best]) best = i;
  return { row: Math.floor(best / gw), col: best % gw, value: maps[j * gh * gw + best] };
}

/** [lo, hi] of every map of a unit (one colour scale for its top images). */
export function mapRange(maps) {
  let lo = Infinity, hi = -Infinity;
  for (const v of maps) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return lo > hi ? [0, 1] : lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}
