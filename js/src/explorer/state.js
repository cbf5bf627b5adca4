// The explorer's data: the selection (image, layer, mode), an LRU cache of decoded layer arrays
// and the loader that asks the kernel for what the selection misses, drops requests the
// selection moved away from and prefetches the neighbouring layers' attention.
//
// Cached arrays (Float32Array, decoded from float16 by codecs.js), keyed by part:
//   "attention"  [H, N, N]           head, query, key
//   "rollout"    [N, N]              rollout of blocks 0..layer
//   "aligned"    [H, 2gh-1, 2gw-1]   query-aligned mean map per head

import { decodeReply } from "../codecs.js";

/** decoded arrays kept per view: 12 layers of attention plus one extra part each */
export const CACHE_ENTRIES = 24;

/** The selection the explorer draws: {image, layer, mode} from the model's traits. */
export function selectionOf(model) {
  return { image: model.get("image_index"), layer: model.get("layer"), mode: model.get("mode") };
}

/** The part a mode needs besides the layer's attention: "rollout", "aligned" or null. */
export function extraPart(mode) {
  return mode === "rollout" || mode === "aligned" ? mode : null;
}

/** Cache key of one part of one image's layer. */
export function partKey(part, image, layer) {
  return `${part}:${image}:${layer}`;
}

/**
 * A least-recently-used map of at most `capacity` entries: set() and get() make an entry the
 * most recent; set() beyond capacity evicts the least recent.
 */
export function createLru(capacity) {
  const map = new Map(); // insertion order = recency, oldest first
  return {
    has: (key) => map.has(key),
    get(key) {
      if (!map.has(key)) return undefined;
      const value = map.get(key);
      map.delete(key);
      map.set(key, value);
      return value;
    },
    set(key, value) {
      map.delete(key);
      map.set(key, value);
      while (map.size > capacity) map.delete(map.keys().next().value);
    },
    clear: () => map.clear(),
    keys: () => [...map.keys()],
    get size() { return map.size; },
  };
}

/** Parts the cache lacks to draw sel: a subset of ["attention", extraPart(sel.mode)]. */
export function missingParts(cache, sel) {
  const need = [];
  if (!cache.has(partKey("attention", sel.image, sel.layer))) need.push("attention");
  const extra = extraPart(sel.mode);
  if (extra && !cache.has(partKey(extra, sel.image, sel.layer))) need.push(extra);
  return need;
}

/** The arrays of sel's layer in the cache: {attn, extra} (extra null when the mode needs none), or null while any is missing. */
export function cachedArrays(cache, sel) {
  const attn = cache.get(partKey("attention", sel.image, sel.layer));
  const part = extraPart(sel.mode);
  const extra = part ? cache.get(partKey(part, sel.image, sel.layer)) : null;
  return attn && extra !== undefined ? { attn, extra } : null;
}

/** Put decoded arrays ({attention, rollout, aligned}, absent ones undefined) of an image's layer in the cache. */
export function storeArrays(cache, { image, layer }, arrays) {
  for (const [part, data] of Object.entries(arrays)) if (data) cache.set(partKey(part, image, layer), data);
}

/** Params of a `layer_data` request (exactly these four). */
export function layerDataParams({ image, layer, mode }, include) {
  return { image, layer, mode, include };
}

/** Layers next to `layer` (after, then before) that exist in a model of numLayers blocks. */
export function neighbourLayers(layer, numLayers) {
  return [layer + 1, layer - 1].filter((l) => l >= 0 && l < numLayers);
}

/**
 * Loader of the current selection's data.
 * @param {object} o
 * @param o.rpc from createRpc
 * @param o.cache from createLru
 * @param {() => object} o.selection the current selection
 * @param {() => number} o.numLayers blocks of the model
 * @param {(sel) => void} o.onLoading the kernel is being asked for sel
 * @param {(sel) => void} o.onReady everything sel needs is cached
 * @param {(err: Error) => void} o.onError the current request failed (not when cancelled)
 * @returns {{ensure: () => void}} ensure(): draw the selection or fetch what it misses
 */
export function createLoader({ rpc, cache, selection, numLayers, onLoading, onReady, onError }) {
  let inflight = null; // {id, key} of the request for the current selection
  const prefetching = new Set();
  const fetch = (sel, include) => rpc.request("layer_data", layerDataParams(sel, include));
  const decoded = (promise) => promise.then(({ result, buffers }) => decodeReply(result, buffers));
  const drop = () => {
    if (inflight) rpc.cancel(inflight.id);
    inflight = null;
  };

  function prefetch(sel) {
    for (const layer of neighbourLayers(sel.layer, numLayers())) {
      const key = partKey("attention", sel.image, layer);
      if (cache.has(key) || prefetching.has(key)) continue;
      prefetching.add(key);
      decoded(fetch({ image: sel.image, layer, mode: "row" }, ["attention"]).promise)
        .then((arrays) => storeArrays(cache, { image: sel.image, layer }, arrays), () => {})
        .finally(() => prefetching.delete(key));
    }
  }

  function ensure() {
    const sel = selection();
    const need = missingParts(cache, sel);
    const key = `${sel.image}:${sel.layer}:${sel.mode}`;
    if (need.length === 0) {
      drop();
      onReady(sel);
      prefetch(sel);
      return;
    }
    if (inflight && inflight.key === key) return;
    drop();
    onLoading(sel);
    const { id, promise } = fetch(sel, need);
    inflight = { id, key };
    const current = () => inflight && inflight.id === id;
    decoded(promise).then((arrays) => {
      storeArrays(cache, sel, arrays);
      if (current()) { inflight = null; ensure(); }
    }, (err) => {
      if (err.cancelled || !current()) return;
      inflight = null;
      onError(err);
    });
  }

  return { ensure };
}
