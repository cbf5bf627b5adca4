// RepresentationMap: the CKA matrix between the blocks of one or two models, streamed over a
// dataset by the kernel (`_cka` float32 [La, Lb], partial while `done` is false; the status line
// counts the batches), with the token-similarity curves under it. Hover is answered here (the
// matrix is small); a click sets `layer` (row) and `layer_b` (column), which Python links to
// other views. This entry only wires layout.js, paint.js and the shared study.js.

import { createRpc } from "../rpc.js";
import { setTraits, listen } from "../model.js";
import { decodeFloat32 } from "../codecs.js";
import { cellAt, composeChart, themeOf } from "../chart.js";
import { canvasPoint } from "../explorer/pointer.js";
import { buildStudyView, showStatus, bindStudyExport, watchTheme, sizeCanvas } from "../study.js";
import { mapLayout, cellText, similarityText } from "./layout.js";
import { paintMap } from "./paint.js";

const floats = (data) => (data && data.byteLength ? decodeFloat32(data) : null);

/** What paintMap needs, from the model's traits and the hovered cell. */
function stateOf(model, hover) {
  const cross = model.get("cross");
  return {
    rows: model.get("num_layers"), cols: cross ? model.get("num_layers_b") : model.get("num_layers"),
    cka: floats(model.get("_cka")), simA: floats(model.get("_similarity")), simB: floats(model.get("_similarity_b")),
    layer: model.get("layer"), layerB: model.get("layer_b"), hover, colormap: model.get("colormap"), cross,
    nameA: model.get("model_name"), nameB: model.get("model_b_name"),
  };
}

/** The readout: the hovered cell (else the selected one) and the token similarity of its blocks. */
function readoutOf(s) {
  const at = s.hover ?? { row: s.layer, col: s.layerB };
  const value = s.cka ? s.cka[at.row * s.cols + at.col] : NaN;
  const sims = [similarityText(s.nameA, s.simA, at.row), similarityText(s.cross ? s.nameB : s.nameA, s.cross ? s.simB : s.simA, at.col)];
  return { value, text: [cellText({ ...at, value, cross: s.cross, nameA: s.nameA, nameB: s.nameB }), ...sims.filter(Boolean)].join(" · ") };
}

function render({ model, el }) {
  const view = buildStudyView(el, "vw-repmap", "vw-repmap-canvas");
  let hover = null, lost = null, paintCount = 0;
  const status = () => showStatus(view, { error: model.get("error"), status: model.get("status"), lost });
  const rpc = createRpc(model, { onDisconnect: (err) => { lost = err.message; status(); } });
  const paint = () => {
    const s = stateOf(model, hover);
    const L = mapLayout(s.rows, s.cols);
    sizeCanvas(view.canvas, L.width, L.height);
    const ctx = view.canvas.getContext("2d");
    ctx.clearRect(0, 0, L.width, L.height);
    paintMap(ctx, L, s, themeOf(view.root));
    const r = readoutOf(s);
    view.readout.textContent = r.text;
    view.title.textContent = s.cross ? `CKA: ${s.nameA} × ${s.nameB}` : `CKA: ${s.nameA}`;
    Object.assign(view.root.dataset, {
      layer: String(s.layer), layerB: String(s.layerB), rows: String(s.rows), cols: String(s.cols), cell: String(L.cell),
      frameX: String(L.heat.x), frameY: String(L.heat.y), hoverRow: String(hover?.row ?? -1), hoverCol: String(hover?.col ?? -1),
      value: Number.isFinite(r.value) ? String(r.value) : "", ready: String(Boolean(model.get("done")) && Boolean(s.cka)), paintCount: String(++paintCount),
    });
  };
  const cellOf = (ev) => {
    const { x, y } = canvasPoint(view.canvas, ev);
    const rows = model.get("num_layers"), cols = model.get("cross") ? model.get("num_layers_b") : rows;
    return cellAt(mapLayout(rows, cols).heat, rows, cols, x, y);
  };
  view.canvas.addEventListener("mousemove", (ev) => {
    const c = cellOf(ev);
    if (c?.row === hover?.row && c?.col === hover?.col) return;
    hover = c;
    paint();
  });
  view.canvas.addEventListener("mouseleave", () => { if (hover) { hover = null; paint(); } });
  view.canvas.addEventListener("click", (ev) => { const c = cellOf(ev); if (c) setTraits(model, { layer: c.row, layer_b: c.col }); });
  const releaseExport = bindStudyExport(view, rpc, {
    what: "the CKA map",
    name: () => `vitwidgets-cka-${String(model.get("model_name")).replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60)}.png`,
    png: (scale) => {
      const s = stateOf(model, null);
      const L = mapLayout(s.rows, s.cols);
      const title = `${view.title.textContent} · minibatch CKA over ${model.get("num_images")} images (${model.get("mode")})`;
      return composeChart(document, L.width, L.height, (ctx, theme) => paintMap(ctx, L, s, theme), { scale, title });
    },
  });
  const stopTheme = watchTheme(document, paint, view.root);
  const off = listen(model, [
    ["change:status change:error", status],
    ["change:_cka change:_similarity change:_similarity_b change:layer change:layer_b change:colormap change:done change:num_layers change:num_layers_b", paint],
  ]);
  status();
  paint();
  return () => { off(); stopTheme(); rpc.dispose(); releaseExport(); };
}

export default { render };
