// The DepthProfile's data as curves: which panels are shown, every model's points on the depth
// axis (blocks: -1 = embedding, l = output of block l, l - 0.5 = after block l's attention
// residual; or relative depth (x + 1) / L: 0 = embedding, 1 = last block), the best block of
// the probes, the block under a depth, and the panels' frames.

/** The panels in order: id (the profile's key), title, and what kind of depth its entries have. */
export const PANELS = [
  { id: "high_frequency", title: "Δ log amplitude at the highest frequency", kind: "latent" },
  { id: "variance", title: "feature-map variance", kind: "latent" },
  { id: "distance_px", title: "mean attention distance (px)", kind: "block" },
  { id: "nmi", title: "NMI (queries vs keys)", kind: "block" },
  { id: "similarity", title: "token similarity (mean cosine)", kind: "stream" },
  { id: "knn", title: "k-NN accuracy", kind: "block", best: "knn_best" },
  { id: "probe", title: "linear-probe accuracy", kind: "block", best: "probe_best" },
];

/** The panels with data in some profile (the probes only with labels). */
export function shownPanels(profiles) {
  return PANELS.filter((p) => profiles.some((m) => Array.isArray(m[p.id]) && m[p.id].length));
}

/** Depth in blocks of every entry of a panel's values for a profile. */
export function blockDepths(profile, panel) {
  const L = profile.num_layers;
  if (panel.kind === "latent") return profile.depths;
  if (panel.kind === "stream") return Array.from({ length: L + 1 }, (_, e) => e - 1);
  return Array.from({ length: L }, (_, b) => b);
}

/** A depth in blocks on the chosen axis ("block" or "relative") for a model of L blocks. */
export function toAxis(depth, numLayers, axis) {
  return axis === "relative" ? (depth + 1) / numLayers : depth;
}

/** The block of a model of L blocks nearest to axis coordinate x (clamped to 0..L-1). */
export function blockAt(x, numLayers, axis) {
  const depth = axis === "relative" ? x * numLayers - 1 : x;
  return Math.max(0, Math.min(numLayers - 1, Math.round(depth)));
}

/** The axis's domain for the profiles: blocks -1..max L-1, or 0..1. */
export function xDomain(profiles, axis) {
  if (axis === "relative") return [0, 1];
  return [-1, Math.max(1, ...profiles.map((p) => p.num_layers)) - 1];
}

/** Marker of an entry at depth d in blocks: embedding "diamond", after attention "circle", after the MLP (block output) "square". */
export function markerOf(depth, panel) {
  if (panel.kind !== "latent") return "circle";
  if (depth < -0.75) return "diamond";
  return Number.isInteger(depth) ? "square" : "circle";
}

/** What an entry at depth d is, in words. */
export function depthName(depth) {
  if (depth < -0.75) return "embedding";
  if (Number.isInteger(depth)) return `block ${depth}`;
  return `block ${Math.ceil(depth)} after attention`;
}

/**
 * One model's points in a panel: [{x (axis), depth (blocks), y, marker}], and the best point
 * ({x, y}) of a probe panel (null elsewhere).
 */
export function seriesOf(profile, panel, axis) {
  const values = profile[panel.id] ?? [];
  const depths = blockDepths(profile, panel);
  const points = values.map((y, i) => ({ x: toAxis(depths[i], profile.num_layers, axis), depth: depths[i], y, marker: markerOf(depths[i], panel) }));
  const b = panel.best ? profile[panel.best] : -1;
  const best = b >= 0 && points[b] ? { x: points[b].x, y: points[b].y, block: b } : null;
  return { points, best };
}

export const PANEL = { w: 300, h: 130, left: 58, top: 22, bottom: 30, right: 16, legend: 22, columns: 2 };

/** Frames of `count` panels in PANEL.columns columns under a legend row: {width, height, frames}. */
export function panelLayout(count) {
  const cw = PANEL.left + PANEL.w + PANEL.right, ch = PANEL.top + PANEL.h + PANEL.bottom;
  const cols = Math.min(PANEL.columns, Math.max(1, count));
  const frames = Array.from({ length: count }, (_, i) => ({
    x: (i % cols) * cw + PANEL.left, y: PANEL.legend + Math.floor(i / cols) * ch + PANEL.top, w: PANEL.w, h: PANEL.h,
  }));
  return { width: cols * cw, height: PANEL.legend + Math.ceil(count / cols) * ch, frames };
}

/** Index of the frame containing canvas pixel (x, y), else -1. */
export function frameAt(frames, x, y) {
  return frames.findIndex((f) => x >= f.x && x < f.x + f.w && y >= f.y && y < f.y + f.h);
}

/** Number as readout text: 3 significant digits (0.00123, 12.3, 1234). */
export function numberText(v) {
  if (!Number.isFinite(v)) return "–";
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(3);
}

/**
 * The readout at axis coordinate x of a panel: every model's nearest entry,
 * "mean attention distance (px): DINO block 3 34.2 · MAE block 3 28.1".
 */
export function hoverText(profiles, names, panel, x, axis) {
  const parts = profiles.map((p, i) => {
    const { points } = seriesOf(p, panel, axis);
    if (!points.length) return null;
    const q = points.reduce((a, b) => (Math.abs(b.x - x) < Math.abs(a.x - x) ? b : a));
    return `${names[i] ?? p.name} ${depthName(q.depth)} ${numberText(q.y)}`;
  }).filter(Boolean);
  return `${panel.title}: ${parts.join(" · ")}`;
}
