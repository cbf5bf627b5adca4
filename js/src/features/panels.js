// The panel under each image: the patch grid coloured by the first three principal components
// (PCA-RGB, Amir et al. 2021), by the foreground rule (the PCA colours where the first
// component's oriented score is > 0, a dark cell elsewhere) or by k-means cluster. Pure: RGBA
// bytes of a gw x gh image, one pixel per patch, for a canvas to scale up.

/** Cluster colours: Okabe & Ito (2008) then Tol's muted scheme, 16 in all. */
export const CLUSTER_COLOURS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#999999",
  "#332288", "#88ccee", "#44aa99", "#117733", "#ddcc77", "#cc6677", "#aa4499", "#882255"];
/** The colour of a background patch in the foreground panel. */
export const BACKGROUND_RGB = [24, 26, 31];

const rgbOf = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/**
 * RGBA bytes (G * 4) of image j's panel.
 * @param {"pca"|"foreground"|"clusters"} panel
 * @param {{pca: Float32Array, foreground: Float32Array, clusters: Float32Array}} data
 *   pca [B, G, 3] in 0..1, foreground [B, G] scores (> 0: foreground), clusters [B, G] labels
 * @param {number} j image
 * @param {number} G patches per image
 * @returns {Uint8ClampedArray}
 */
export function panelPixels(panel, data, j, G) {
  const out = new Uint8ClampedArray(G * 4);
  for (let g = 0; g < G; g++) {
    const i = j * G + g;
    let rgb;
    if (panel === "clusters") rgb = rgbOf(CLUSTER_COLOURS[Math.round(data.clusters[i]) % CLUSTER_COLOURS.length]);
    else if (panel === "foreground" && !(data.foreground[i] > 0)) rgb = BACKGROUND_RGB;
    else rgb = [0, 1, 2].map((c) => Math.round(255 * Math.min(1, Math.max(0, data.pca[i * 3 + c]))));
    out.set([...rgb, 255], g * 4);
  }
  return out;
}

/** Share of image j's patches the foreground rule calls foreground (0..1). */
export function foregroundShare(foreground, j, G) {
  let n = 0;
  for (let g = 0; g < G; g++) if (foreground[j * G + g] > 0) n += 1;
  return n / G;
}
