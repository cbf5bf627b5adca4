// The explorer's data: the selection (image, layer, mode), a byte-bounded LRU cache of the
// decoded parts of each (image, layer) and the loader that asks the kernel for what the
// selection misses, drops requests the selection moved away from and prefetches the
// neighbouring layers' attention (small replies only).
//
// Cached entries, keyed by part (partKey), each in the form the kernel chose
// (`result.attention_form` / `result.rollout_form`; absent means "dense"), arrays Float32Array
// decoded from float16 (lse from float32) by codecs.js, plus wireBytes (the reply's buffer bytes):
//   "attention"  {form: "dense", attention: [H, N, N]}            head, query, key
//                {form: "qk", q: [H, N, d], k: [H, N, d], lse: [H, N], d}
//                                                               scaled queries, keys, log-sum-exp
//                {form: "kernel"}                               too big to ship: hover asks `rows`
//   "rollout"    {form: "dense", rollout: [N, N]} | {form: "kernel"}   rollout of blocks 0..layer
//   "aligned"    {form: "dense", aligned: [H, 2gh-1, 2gw-1]}    query-aligned mean map per head
// The current selection's entries are protected: kept however big, evicted once it moves on.

import { decodeReply } from "../codecs.js";

/** Bytes of decoded arrays the cache keeps (protected entries of the selection aside). */
export const CACHE_BYTES = 256 * 2 ** 20;
/**
 * Neighbour layers are prefetched only after a reply under this many buffer bytes: two
 * prefetched 5.6 MB q/k replies (DINOv2-L/14 @518) hold up the next jump's first-paint rows
 * behind them on the one websocket (measured: layer switch p95 427 ms with 8 MB here, the
 * rows-first paint under 100 ms without).
 */
export const PREFETCH_MAX_BYTES = 2 * 2 ** 20;

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

/** Bytes of an entry's typed arrays (its Float32Arrays). */
export function entryBytes(entry) {
  let n = 0;
  for (const v of Object.values(entry ?? {})) if (ArrayBuffer.isView(v)) n += v.byteLength;
  return n;
}

/**
 * A least-recently-used map bounded by bytes (sizeOf(value), entryBytes by default): set() and
 * get() make an entry the most recent; set() evicts the least recent until the total fits.
 * Protected keys (protect()) are never evicted, however big; an unprotected value bigger than
 * the capacity is not kept at all.
 * @param {number} capacity bytes
 */
export function createByteLru(capacity, sizeOf = entryBytes) {
  const map = new Map(); // key -> {value, bytes}; insertion order = recency, oldest first
  let total = 0;
  let guarded = new Set();
  const remove = (key) => {
    const e = map.get(key);
    if (e) { total -= e.bytes; map.delete(key); }
  };
  const trim = () => {
    for (const key of [...map.keys()]) {
      if (total <= capacity) return;
      if (!guarded.has(key)) remove(key);
    }
  };
  return {
    has: (key) => map.has(key),
    get(key) {
      const e = map.get(key);
      if (!e) return undefined;
      map.delete(key);
      map.set(key, e);
      return e.value;
    },
    /** @returns {boolean} whether the value is kept */
    set(key, value) {
      remove(key);
      const bytes = sizeOf(value);
      if (bytes > capacity && !guarded.has(key)) return false;
      map.set(key, { value, bytes });
      total += bytes;
      trim();
      return map.has(key);
    },
    /** Keys kept whatever the budget (the current selection's), replacing the previous ones. */
    protect(keys) {
      guarded = new Set(keys);
      trim();
    },
    clear() { map.clear(); total = 0; },
    keys: () => [...map.keys()],
    get size() { return map.size; },
    get bytes() { return total; },
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

/** Cache keys of every part of sel's layer (what the loader protects). */
export function selectionKeys({ image, layer }) {
  return ["attention", "rollout", "aligned"].map((part) => partKey(part, image, layer));
}

/**
 * The entries of sel's layer in the cache: {attention, extra} (extra: the mode's rollout or
 * aligned entry), each null while missing (extra also when the mode needs none).
 */
export function cachedParts(cache, sel) {
  const part = extraPart(sel.mode);
  return {
    attention: cache.get(partKey("attention", sel.image, sel.layer)) ?? null,
    extra: part ? cache.get(partKey(part, sel.image, sel.layer)) ?? null : null,
  };
}

function attentionEntry(result, arrays) {
  const form = result.attention_form ?? "dense";
  if (form === "dense") return { form, attention: arrays.attention };
  if (form === "kernel") return { form };
  if (form !== "qk") throw new Error(`unknown attention_form ${JSON.stringify(form)} (known: dense, qk, kernel)`);
  const { q, k, lse } = arrays;
  if (!q || !k || !lse) throw new Error('attention_form "qk" needs arrays q, k and lse');
  const qShape = (result.arrays ?? []).find((a) => a.name === "q")?.shape;
  return { form, q, k, lse, d: result.head_dim ?? qShape?.[2] };
}

function rolloutEntry(result, arrays) {
  const form = result.rollout_form ?? "dense";
  if (form === "kernel") return { form };
  if (form !== "dense") throw new Error(`unknown rollout_form ${JSON.stringify(form)} (known: dense, kernel)`);
  return { form, rollout: arrays.rollout };
}

/**
 * Cache entries of a decoded `layer_data` reply, per part asked for (see the header).
 * @param {object} result the reply's JSON result
 * @param {object} arrays decodeReply's arrays
 * @param {string[]} include the parts asked for
 * @param {number} wireBytes bytes of the reply's buffers
 * @returns {{attention?: object, rollout?: object, aligned?: object}}
 */
export function entriesOfReply(result, arrays, include, wireBytes = 0) {
  const out = {};
  if (include.includes("attention")) out.attention = attentionEntry(result, arrays);
  if (include.includes("rollout")) out.rollout = rolloutEntry(result, arrays);
  if (include.includes("aligned")) out.aligned = { form: "dense", aligned: arrays.aligned };
  for (const [part, e] of Object.entries(out)) {
    if (e.form === "dense" && !e[part]) throw new Error(`the reply carries no "${part}" array`);
    e.wireBytes = wireBytes;
  }
  return out;
}

/** Put entries ({attention, rollout, aligned}, absent ones undefined) of an image's layer in the cache. */
export function storeEntries(cache, { image, layer }, entries) {
  for (const [part, entry] of Object.entries(entries)) if (entry) cache.set(partKey(part, image, layer), entry);
}

/** Whether an attention entry's neighbour layers are worth prefetching (dense or qk, a small reply). */
export function prefetchable(entry) {
  return !!entry && (entry.form === "dense" || entry.form === "qk") && entry.wireBytes < PREFETCH_MAX_BYTES;
}

/** Params of a `layer_data` request (exactly these four). */
export function layerDataParams({ image, layer, mode }, include) {
  return { image, layer, mode, include };
}

/** Layers next to `layer` (after, then before) that exist in a model of numLayers blocks. */
export function neighbourLayers(layer, numLayers) {
  return [layer + 1, layer - 1].filter((l) => l >= 0 && l < numLayers);
}

const wireBytesOf = (buffers) => buffers.reduce((n, b) => n + b.byteLength, 0);

/**
 * Loader of the current selection's data.
 * @param {object} o
 * @param o.rpc from createRpc
 * @param o.cache from createByteLru
 * @param {() => object} o.selection the current selection
 * @param {() => number} o.numLayers blocks of the model
 * @param {(sel) => void} o.onLoading the kernel is about to be asked for sel (called before the request goes out)
 * @param {(sel) => void} o.onReady everything sel needs is cached
 * @param {(err: Error) => void} o.onError the current request failed (not when cancelled)
 * @returns {{ensure: () => void}} ensure(): draw the selection or fetch what it misses
 */
export function createLoader({ rpc, cache, selection, numLayers, onLoading, onReady, onError }) {
  let inflight = null; // {id, key} of the request for the current selection
  const prefetching = new Set();
  const fetch = (sel, include) => {
    const { id, promise } = rpc.request("layer_data", layerDataParams(sel, include));
    const entries = promise.then(({ result, buffers }) =>
      entriesOfReply(result, decodeReply(result, buffers), include, wireBytesOf(buffers)));
    return { id, entries };
  };
  const drop = () => {
    if (inflight) rpc.cancel(inflight.id);
    inflight = null;
  };

  function prefetch(sel) {
    if (!prefetchable(cache.get(partKey("attention", sel.image, sel.layer)))) return;
    for (const layer of neighbourLayers(sel.layer, numLayers())) {
      const key = partKey("attention", sel.image, layer);
      if (cache.has(key) || prefetching.has(key)) continue;
      prefetching.add(key);
      fetch({ image: sel.image, layer, mode: "row" }, ["attention"]).entries
        .then((entries) => storeEntries(cache, { image: sel.image, layer }, entries), () => {})
        .finally(() => prefetching.delete(key));
    }
  }

  function ensure() {
    const sel = selection();
    cache.protect(selectionKeys(sel));
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
    const { id, entries } = fetch(sel, need);
    inflight = { id, key };
    const current = () => inflight && inflight.id === id;
    entries.then((parts) => {
      storeEntries(cache, sel, parts);
      if (current()) { inflight = null; ensure(); }
    }, (err) => {
      if (err.cancelled || !current()) return;
      inflight = null;
      onError(err);
    });
  }

  return { ensure };
}
