// The FeatureExplorer's words: each image's label, the line under the toolbar (what the maps
// show and how exact they are), the rule line and the status while a layer is computed.

/** "(row, col)" of patch g in a grid gw wide. */
export function patchText(g, gw) {
  return `(${Math.floor(g / gw)}, ${g % gw})`;
}

/**
 * Label under image j (short: it fits under the map): its brightest cosine, or the cosine of
 * the kernel's match and whether it is mutual.
 * @param {{maxCos?: number|null, match?: {similarity: number, mutual: boolean}|null, isSource?: boolean}} o
 */
export function cellLabel(j, { maxCos = null, match = null, isSource = false } = {}) {
  const parts = [`image ${j}`];
  if (isSource) parts.push("selected patch");
  else if (match) parts.push(`${match.similarity.toFixed(2)} ${match.mutual ? "mutual ↔" : "one-way →"}`);
  else if (maxCos !== null) parts.push(`max ${maxCos.toFixed(2)}`);
  return parts.join(" · ");
}

/** How exact the browser's cosines are: "exact (float16)" or "from 128 of 768 dims ...". */
export function exactnessText({ dims, full_dims: full, cosine_error: err }) {
  if (dims >= full) return `cosines of all ${full} dims (float16: within ${err.toPrecision(2)})`;
  return `cosines from the top ${dims} of ${full} PCA dims (within ${err.toPrecision(2)} of the exact ones)`;
}

/**
 * The readout line: the shown patch, the colour range and how exact the maps are; a hint when
 * nothing is shown.
 */
export function readoutText({ shown, range, data, gw, pinned }) {
  if (!data) return "";
  if (!shown) return `hover a patch for its cosine similarity in every image; click for its best matches (kernel) · ${exactnessText(data)}`;
  const how = pinned ? "clicked" : "hovered";
  return `${how}: image ${shown.image}, patch ${patchText(shown.patch, gw)} · colours: cosine ${range[0].toFixed(2)} … ${range[1].toFixed(2)} · ${exactnessText(data)}`;
}

/** The rule line: the foreground rule as the kernel states it, and what the panel shows. */
export function ruleText(data, panel) {
  if (!data) return "";
  const share = `${(100 * data.border_foreground).toFixed(0)} % of border patches are foreground`;
  if (panel === "foreground") return `${data.foreground_rule} · ${share}`;
  if (panel === "clusters") return `k-means of the L2-normalised patch features of all images jointly, k = ${data.k}: one colour, one cluster`;
  return `PCA of the patch features of all images jointly: components 1-3 as red, green, blue · ${data.foreground_rule}`;
}

/** The status while the kernel computes a layer. */
export function loadingText({ layer, facet, k }) {
  return `computing block ${layer} (${facet}, k = ${k}) in the kernel…`;
}

/** text cut into lines of at most maxChars at spaces (a longer word gets a line of its own). */
export function wrapWords(text, maxChars) {
  const lines = [];
  let line = "";
  for (const word of String(text).split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > maxChars) { lines.push(line); line = word; }
    else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
