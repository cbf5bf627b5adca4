// The explorer as one PNG (the export button, and AttentionExplorer.save_png through the
// kernel's `export_png` request): a title line, the focused head's map with its title, caption
// and colour bar, and the small multiples with their labels, the focused one outlined as in the
// widget. One composite a teacher can paste into a slide: white background, dark text, every
// map scaled by a whole factor with nearest-neighbour sampling so patch cells stay sharp.
//
// Layout in CSS px (times `scale` in the PNG):
//   PAD | title                                            | PAD
//       | focus column (stacked items) | GAP | head grid   |
// A stacked item is {text, bold?} (one line, cut with "…" to the column's width), {canvas}
// (drawn at its attribute size), or a colour bar {canvas, before, after}: its canvas between
// two words on one line. The head grid has `columns` columns of cells
// {canvas, label, focused}: the canvas, then its label below.

export const PAD = 12;
export const GAP = 18;
const CELL_GAP = 6;
const LINE = { title: 20, text: 16, label: 14 };
const FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif";
export const BACKGROUND = "#ffffff";
export const INK = "#222222";
export const FOCUS_OUTLINE = "#f0a020";

const isBar = (it) => it.canvas && (it.before || it.after);
const itemHeight = (it) => (isBar(it) ? Math.max(it.canvas.height, LINE.text) + 4 : it.canvas ? it.canvas.height + 4 : it.text ? LINE.text : 0);
const itemWidth = (it) => (it.canvas ? it.canvas.width : 0);

/**
 * Where everything goes, in CSS px.
 * @param {{title: string, focus: object[], heads: {caption?: string, columns: number,
 *   cells: {canvas: {width, height}}[]}}} parts
 * @returns {{width, height, focus: {x, y, w}[], headsCaption: {x, y}|null, cells: {x, y}[],
 *   cellSize: {w, h}, focusWidth: number}} focus: each stacked item's top-left and width
 */
export function exportLayout(parts) {
  const top = PAD + (parts.title ? LINE.title + 4 : 0);
  const focusWidth = Math.max(0, ...parts.focus.map(itemWidth), parts.focus.some((it) => it.text) ? 200 : 0);
  let y = top;
  const focus = parts.focus.map((it) => {
    const at = { x: PAD, y, w: focusWidth };
    y += itemHeight(it);
    return at;
  });
  const leftBottom = y;
  const { cells = [], columns = 1, caption = "" } = parts.heads ?? {};
  const cw = Math.max(0, ...cells.map((c) => c.canvas.width));
  const ch = Math.max(0, ...cells.map((c) => c.canvas.height)) + LINE.label + 2;
  const gx = PAD + focusWidth + (focusWidth > 0 && cells.length ? GAP : 0);
  const gy = top + (caption ? LINE.text : 0);
  const cols = Math.max(1, Math.min(columns, cells.length));
  const rows = Math.ceil(cells.length / cols);
  const at = cells.map((_, i) => ({ x: gx + (i % cols) * (cw + CELL_GAP), y: gy + Math.floor(i / cols) * (ch + CELL_GAP) }));
  const gridRight = cells.length ? gx + cols * (cw + CELL_GAP) - CELL_GAP : PAD + focusWidth;
  const gridBottom = cells.length ? gy + rows * (ch + CELL_GAP) - CELL_GAP : top;
  return {
    width: Math.ceil(Math.max(gridRight, PAD + focusWidth) + PAD),
    height: Math.ceil(Math.max(leftBottom, gridBottom) + PAD),
    focus, headsCaption: caption ? { x: gx, y: top } : null, cells: at, cellSize: { w: cw, h: ch }, focusWidth,
  };
}

/** text cut with "…" so that ctx.measureText(result) fits maxWidth (px in ctx's units). */
export function fitText(ctx, text, maxWidth) {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) { // the longest prefix whose cut form fits
    const mid = Math.ceil((lo + hi) / 2);
    if (ctx.measureText(text.slice(0, mid) + "…").width <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo > 0 ? text.slice(0, lo) + "…" : "";
}

function drawText(ctx, text, x, y, maxWidth, { size = 12, bold = false } = {}) {
  ctx.font = `${bold ? "600 " : ""}${size}px ${FONT}`;
  ctx.fillText(fitText(ctx, text, maxWidth), x, y);
}

/** A colour bar item: `before`, the bar (outlined), `after`, vertically centred on one line. */
function drawBar(ctx, { canvas, before = "", after = "" }, x, y, w) {
  const h = Math.max(canvas.height, LINE.text);
  ctx.font = `12px ${FONT}`;
  const lead = before ? Math.min(ctx.measureText(before).width + 6, w / 3) : 0;
  if (before) drawText(ctx, before, x, y + (h - 12) / 2, lead - 6);
  const by = y + (h - canvas.height) / 2;
  ctx.drawImage(canvas, x + lead, by, canvas.width, canvas.height);
  ctx.strokeStyle = "#888888";
  ctx.lineWidth = 1;
  ctx.strokeRect(x + lead - 0.5, by - 0.5, canvas.width + 1, canvas.height + 1);
  ctx.fillStyle = INK;
  if (after) drawText(ctx, after, x + lead + canvas.width + 6, y + (h - 12) / 2, w - lead - canvas.width - 6);
}

/**
 * Draw the composite on a new canvas of doc.
 * @param {Document} doc
 * @param parts see exportLayout; canvases are the widget's own (read, never changed)
 * @param {{scale?: number}} [o] whole-number px per CSS px (2: crisp on slides)
 * @returns {HTMLCanvasElement} (layout.width * scale) x (layout.height * scale)
 */
export function composeExport(doc, parts, { scale = 2 } = {}) {
  if (!Number.isInteger(scale) || scale < 1 || scale > 8) throw new Error(`scale must be a whole number 1..8, got ${scale}`);
  const L = exportLayout(parts);
  const out = doc.createElement("canvas");
  out.width = L.width * scale;
  out.height = L.height * scale;
  const ctx = out.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.scale(scale, scale);
  ctx.fillStyle = INK;
  ctx.textBaseline = "top";
  if (parts.title) drawText(ctx, parts.title, PAD, PAD, L.width - 2 * PAD, { size: 14, bold: true });
  parts.focus.forEach((it, i) => {
    const { x, y, w } = L.focus[i];
    if (isBar(it)) drawBar(ctx, it, x, y, w);
    else if (it.canvas) ctx.drawImage(it.canvas, x, y, it.canvas.width, it.canvas.height);
    else if (it.text) drawText(ctx, it.text, x, y + 1, w, { bold: it.bold });
  });
  const { cells = [], caption = "" } = parts.heads ?? {};
  if (L.headsCaption) drawText(ctx, caption, L.headsCaption.x, L.headsCaption.y + 1, L.width - PAD - L.headsCaption.x);
  cells.forEach((c, i) => {
    const { x, y } = L.cells[i];
    ctx.drawImage(c.canvas, x, y, c.canvas.width, c.canvas.height);
    if (c.focused) {
      ctx.strokeStyle = FOCUS_OUTLINE;
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 2, y - 2, c.canvas.width + 4, c.canvas.height + 4);
    }
    ctx.fillStyle = INK;
    drawText(ctx, c.label || "", x, y + c.canvas.height + 2, L.cellSize.w, { size: 11 });
  });
  return out;
}

/** The PNG bytes of a canvas (canvas.toBlob). */
export function canvasPng(canvas) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => {
      if (!blob) return reject(new Error("the browser could not encode the PNG (canvas too large?)"));
      blob.arrayBuffer().then((ab) => resolve(new Uint8Array(ab)), reject);
    }, "image/png");
  });
}

/** A file name for the PNG of a selection: "vitwidgets-<model>-image0-layer3-head2-row.png". */
export function exportFileName({ model, image, layer, head, mode }) {
  const safe = String(model || "vit").replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60);
  return `vitwidgets-${safe}-image${image}-layer${layer}-head${head}-${mode}.png`;
}

/**
 * Let the browser download bytes as a file (an <a download> click on an object URL).
 * @returns {string} the object URL: revoke it once the download has started (e.g. at the next one)
 */
export function downloadBytes(doc, bytes, name, type = "image/png") {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = doc.createElement("a");
  a.href = url;
  a.download = name;
  a.style.display = "none";
  doc.body.appendChild(a);
  a.click();
  a.remove();
  return url;
}

const textOf = (el) => (el?.textContent ?? "").trim();

/**
 * What the explorer shows now, as composeExport's parts: read from its view (the DOM the user
 * sees: titles, captions, the colour bar and its words, the head labels) and the model.
 * @param app the explorer's app ({model, view, structure})
 */
export function exportParts({ model, view, structure }) {
  const mode = model.get("mode");
  const modeLabel = (model.get("_modes") || []).find((m) => m.id === mode)?.label || mode;
  const query = view.root.dataset.query;
  const title = [model.get("model_name"), `image ${model.get("image_index")}`,
    `layer ${model.get("layer")} / ${model.get("num_layers") - 1}`, modeLabel,
    query !== undefined && mode !== "cls" && mode !== "aligned" ? `query token ${query}` : null].filter(Boolean).join(" · ");
  const bar = { canvas: view.legend, before: textOf(view.legendLow), after: textOf(view.legendHigh) };
  if (!bar.before && !bar.after) bar.after = view.legend?.title || "";
  const focus = [
    { text: textOf(view.focusTitle), bold: true },
    { canvas: view.focusCanvas },
    { text: textOf(view.focusCaption) },
    view.legend ? bar : null,
  ].filter((it) => it && (it.canvas || it.text));
  const cells = (structure?.heads ?? []).map((c) => ({ canvas: c.canvas, label: textOf(c.label), focused: c.cell.dataset.focused === "true" }));
  return { title, focus, heads: { caption: textOf(view.headsCaption), columns: Math.ceil(Math.sqrt(cells.length || 1)), cells } };
}

/**
 * Resolves once root.dataset.ready is "true" (checked every 50 ms); rejects after waitMs with
 * what the widget shows (its error, if any).
 */
export function whenDrawn(root, waitMs) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = () => {
      if (root.dataset.ready === "true") return resolve();
      if (Date.now() - t0 >= waitMs) {
        const why = root.dataset.error ? ` (${root.dataset.error})` : "";
        return reject(new Error(`the explorer has not drawn this selection yet${why}: wait for it, then export again`));
      }
      setTimeout(check, 50);
    };
    check();
  });
}

/**
 * The explorer's PNG: {bytes, width, height}, once the selection is drawn (waiting up to
 * waitMs; 0: it must be drawn now), so that an export never shows a blank map.
 */
export async function explorerPng(app, { scale = 2, waitMs = 0 } = {}) {
  await whenDrawn(app.view.root, waitMs);
  const canvas = composeExport(document, exportParts(app), { scale });
  return { bytes: await canvasPng(canvas), width: canvas.width, height: canvas.height };
}
