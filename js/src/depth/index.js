// DepthProfile: per-depth curves of one or several models (the kernel streams each model's
// profile over the dataset and sends its curves in `_profiles` when it is in; the status line
// counts the batches). Hover reads the curves here; a click sets `layer` to the first model's
// block nearest the depth clicked, which Python links to other views. This entry only wires
// series.js, paint.js and the shared study.js.

import { createRpc } from "../rpc.js";
import { setTrait, listen } from "../model.js";
import { composeChart, themeOf } from "../chart.js";
import { canvasPoint } from "../explorer/pointer.js";
import { buildStudyView, showStatus, bindStudyExport, watchTheme, sizeCanvas } from "../study.js";
import { h, setOptions } from "../dom.js";
import { shownPanels, panelLayout, frameAt, xDomain, blockAt, hoverText } from "./series.js";
import { paintProfiles, xScaleOf } from "./paint.js";

/** What paintProfiles needs, from the model's traits. */
function stateOf(model) {
  const profiles = model.get("_profiles") || [];
  const axis = model.get("depth_axis");
  return { profiles, names: model.get("names") || [], panels: shownPanels(profiles), axis, domain: xDomain(profiles, axis), layer: model.get("layer") };
}

/** The panel and axis coordinate under a mouse event, or null. */
function pointOf(canvas, ev, s) {
  const { x, y } = canvasPoint(canvas, ev);
  const L = panelLayout(s.panels.length);
  const i = frameAt(L.frames, x, y);
  return i < 0 ? null : { panel: s.panels[i], x: xScaleOf(L.frames[i], s.domain).invert(x) };
}

function render({ model, el }) {
  const view = buildStudyView(el, "vw-depth", "vw-depth-canvas");
  const axis = h("select", { className: "vw-depth-axis", title: "Depth axis: blocks, or relative depth (0 = embedding, 1 = last block) to compare models of different depths" });
  setOptions(axis, [["block", "depth in blocks"], ["relative", "relative depth"]]);
  axis.addEventListener("change", () => setTrait(model, "depth_axis", axis.value));
  view.title.after(axis);
  let hover = null, lost = null, paintCount = 0;
  const status = () => showStatus(view, { error: model.get("error"), status: model.get("status"), lost });
  const rpc = createRpc(model, { onDisconnect: (err) => { lost = err.message; status(); } });
  const paint = () => {
    const s = stateOf(model);
    const L = panelLayout(s.panels.length);
    sizeCanvas(view.canvas, L.width, L.height);
    const ctx = view.canvas.getContext("2d");
    ctx.clearRect(0, 0, L.width, L.height);
    paintProfiles(ctx, L, s, themeOf(view.root));
    view.title.textContent = `Depth profile: ${s.names.join(", ")}`;
    axis.value = s.axis;
    view.readout.textContent = hover ? hoverText(s.profiles, s.names, hover.panel, hover.x, s.axis) : "";
    Object.assign(view.root.dataset, {
      layer: String(s.layer), depthAxis: s.axis, panels: s.panels.map((p) => p.id).join(","), domain: s.domain.join(","),
      frames: JSON.stringify(L.frames), hoverPanel: hover?.panel.id ?? "", hoverLayer: String(hover && s.profiles[0] ? blockAt(hover.x, s.profiles[0].num_layers, s.axis) : -1),
      ready: String(Boolean(model.get("done")) && s.profiles.length > 0), paintCount: String(++paintCount),
    });
  };
  view.canvas.addEventListener("mousemove", (ev) => { hover = pointOf(view.canvas, ev, stateOf(model)); paint(); });
  view.canvas.addEventListener("mouseleave", () => { if (hover) { hover = null; paint(); } });
  view.canvas.addEventListener("click", (ev) => {
    const s = stateOf(model);
    const at = pointOf(view.canvas, ev, s);
    if (at && s.profiles[0]) setTrait(model, "layer", blockAt(at.x, s.profiles[0].num_layers, s.axis));
  });
  const releaseExport = bindStudyExport(view, rpc, {
    what: "the depth profile",
    name: () => `vitwidgets-depth-${(model.get("names") || []).join("-").replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60)}.png`,
    png: (scale) => {
      const s = stateOf(model);
      const L = panelLayout(s.panels.length);
      return composeChart(document, L.width, L.height, (ctx, theme) => paintProfiles(ctx, L, s, theme), { scale, title: view.title.textContent });
    },
  });
  const stopTheme = watchTheme(document, paint, view.root);
  const off = listen(model, [
    ["change:status change:error", status],
    ["change:_profiles change:layer change:depth_axis change:names change:done", paint],
  ]);
  status();
  paint();
  return () => { off(); stopTheme(); rpc.dispose(); releaseExport(); };
}

export default { render };
