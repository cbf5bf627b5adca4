// What the kernel sends the FeatureExplorer: a layer's data (`layer_data`: features as
// coordinates whose dot products are cosines, PCA colours, foreground scores, cluster labels,
// each [B, G, ...] float16 with a {name, shape, dtype} descriptor, see codecs.js) and a click's
// matches (`matches`: JSON). Requests and their cache keys.

import { decodeArray } from "../codecs.js";

/** Arrays a `layer_data` reply carries, by name. */
export const LAYER_ARRAYS = ["coords", "pca", "foreground", "clusters"];
/** Layers (facet and k included) kept decoded in the browser. */
export const LAYER_ENTRIES = 6;
/** Matches kept (a click on a patch clicked before answers at once). */
export const MATCH_ENTRIES = 64;

/** The selection a layer's data depends on. */
export function layerSelection(model) {
  return { layer: model.get("layer"), facet: model.get("facet"), k: model.get("k") };
}

/** Cache key of a layer's data ("layer|facet|k|version": a new version drops the old data). */
export function layerKey({ layer, facet, k }, version = 0) {
  return `${layer}|${facet}|${k}|${version}`;
}

/** The `layer_data` job of a selection: {key, params}. */
export function layerJob(sel, version = 0) {
  return { key: layerKey(sel, version), params: { layer: sel.layer, facet: sel.facet, k: sel.k } };
}

/**
 * Decode a `layer_data` reply.
 * @returns {object} the reply's JSON result plus G, dims and one Float32Array per LAYER_ARRAYS name
 */
export function decodeLayer(result, buffers = []) {
  const arrays = result?.arrays ?? [];
  if (arrays.length !== buffers.length) throw new Error(`the reply describes ${arrays.length} arrays but carries ${buffers.length} buffers`);
  const out = { ...result };
  arrays.forEach((desc, i) => {
    if (!LAYER_ARRAYS.includes(desc?.name)) throw new Error(`unknown array ${JSON.stringify(desc?.name)} in the reply (known: ${LAYER_ARRAYS.join(", ")})`);
    out[desc.name] = decodeArray(desc, buffers[i]).data;
  });
  const missing = LAYER_ARRAYS.filter((n) => !out[n]);
  if (missing.length) throw new Error(`the reply lacks ${missing.join(", ")}`);
  const coords = arrays.find((d) => d.name === "coords");
  out.G = coords.shape[1];
  out.dims = coords.shape[2];
  return out;
}

/** The `matches` job of a clicked patch: {key, params}. */
export function matchJob({ image, patch, layer, facet }) {
  return { key: `${image}|${patch}|${layer}|${facet}`, params: { image, patch, layer, facet } };
}
