// Cosine-similarity maps under the pointer, computed in the browser: the kernel ships each
// layer's patch features as coordinates whose dot products are the cosines ("coords"
// [B, G, dims], float16 decoded to float32; see vitwidgets.core.features.similarity_basis), so a
// hover is B * G * dims multiply-adds (8 x 196 x 768 = 1.2 M for ViT-B/16 over 8 images).

/**
 * Dot products of one patch's coordinates with every patch of every image.
 * @param {Float32Array} coords [B, G, dims] row-major
 * @param {{B: number, G: number, dims: number}} shape
 * @param {number} image the hovered image 0..B-1
 * @param {number} patch the hovered patch 0..G-1
 * @param {Float32Array} [out] B * G values to fill (allocated when absent)
 * @returns {Float32Array} out: out[j * G + g] = coords[image, patch] . coords[j, g]
 */
export function similarityMaps(coords, { B, G, dims }, image, patch, out = new Float32Array(B * G)) {
  if (coords.length !== B * G * dims) throw new RangeError(`coords hold ${coords.length} values, not ${B}x${G}x${dims}`);
  if (!(image >= 0 && image < B && patch >= 0 && patch < G)) throw new RangeError(`patch ${patch} of image ${image} is outside ${B} images of ${G} patches`);
  const q = coords.subarray((image * G + patch) * dims, (image * G + patch + 1) * dims);
  for (let r = 0, o = 0; r < B * G; r++, o += dims) {
    let s = 0;
    for (let c = 0; c < dims; c++) s += q[c] * coords[o + c];
    out[r] = s;
  }
  return out;
}

/**
 * The brightest patch of each image's map (the first of ties).
 * @returns {Int32Array} B patch indices
 */
export function brightest(maps, B, G) {
  const out = new Int32Array(B);
  for (let j = 0; j < B; j++) {
    let best = 0;
    for (let g = 1; g < G; g++) if (maps[j * G + g] > maps[j * G + best]) best = g;
    out[j] = best;
  }
  return out;
}

/**
 * [lo, hi] of the maps but for entry `skip` (the shown patch itself, whose cosine is 1: left
 * out, the colours span what the other patches reach; it is drawn at the top). A flat range
 * gets a unit range below its value.
 */
export function mapRange(maps, skip = -1) {
  let lo = Infinity, hi = -Infinity;
  maps.forEach((v, i) => {
    if (i === skip) return;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  });
  if (!(hi > lo)) return Number.isFinite(hi) ? [hi - 1, hi] : [0, 1];
  return [lo, hi];
}

/**
 * Colour positions 0..1 of the maps on [lo, hi] (what draw.js paintMap takes, per image).
 * @returns {Float32Array} same length as maps
 */
export function colourPositions(maps, [lo, hi], out = new Float32Array(maps.length)) {
  const k = 1 / (hi - lo);
  for (let i = 0; i < maps.length; i++) out[i] = (maps[i] - lo) * k;
  return out;
}
