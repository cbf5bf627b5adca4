// Colour maps as 256-entry RGB lookup tables, built by linear interpolation between 11 samples
// (t = 0, 0.1, ..., 1) of the matplotlib maps of the same name. Which maps the user is offered,
// and in what order, is the kernel's business (the explorer's `_colormaps` trait); this module
// only holds the colour stops of every map it can draw.

/** Colour stops by map name: CSS hex colours at evenly spaced t from 0 to 1. */
const SAMPLES = {
  viridis: ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884",
    "#44bf70", "#7ad151", "#bddf26", "#fde725"],
  magma: ["#000004", "#140e36", "#3b0f70", "#641a80", "#8c2981", "#b73779", "#de4968",
    "#f7705c", "#fe9f6d", "#fecf92", "#fcfdbf"],
  inferno: ["#000004", "#160b39", "#420a68", "#6a176e", "#932667", "#bc3754", "#dd513a",
    "#f37819", "#fca50a", "#f6d746", "#fcffa4"],
  gray: ["#000000", "#ffffff"],
};

/** Names of the maps this bundle has colour stops for (in the order of the table). */
export function knownColormaps() {
  return Object.keys(SAMPLES);
}

function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

const cache = new Map();

/** Lookup table of a colour map: Uint8Array of 256 * 3 (r, g, b) for t = i / 255. */
export function colormapLut(name) {
  if (cache.has(name)) return cache.get(name);
  const samples = Object.hasOwn(SAMPLES, name) ? SAMPLES[name] : null;
  if (!samples) throw new Error(`unknown colour map "${name}" (known: ${knownColormaps().join(", ")})`);
  const rgb = samples.map(hexToRgb);
  const lut = new Uint8Array(256 * 3);
  const segments = rgb.length - 1;
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * segments;
    const k = Math.min(segments - 1, Math.floor(x));
    const f = x - k;
    for (let c = 0; c < 3; c++) {
      lut[i * 3 + c] = Math.round(rgb[k][c] * (1 - f) + rgb[k + 1][c] * f);
    }
  }
  cache.set(name, lut);
  return lut;
}

/** Index into a LUT for t in [0, 1] (clamped; NaN maps to 0). */
export function lutIndex(t) {
  if (!(t > 0)) return 0;
  if (t >= 1) return 255;
  return Math.round(t * 255);
}

/** CSS colour string of a colour map at t in [0, 1] (for legends). */
export function colormapCss(name, t) {
  const lut = colormapLut(name);
  const i = lutIndex(t) * 3;
  return `rgb(${lut[i]}, ${lut[i + 1]}, ${lut[i + 2]})`;
}
