// AttentionExplorer: the image with its patch grid, per-head attention as small multiples and a
// large view of the focused head. Hover is answered here from the selected layer's attention
// (float16 [H, N, N], fetched once per image/layer); the kernel is asked only when the image,
// layer or mode changes. Semantic selection (image_index, layer, head, query) lives in model
// traits; hover, colour map, opacity and log scale are drawn here. The modes and colour maps
// offered come from the kernel (`_modes`, `_colormaps`). This entry only wires the parts.

import { createRpc } from "../rpc.js";
import { setTrait, listen } from "../model.js";
import { CACHE_ENTRIES, createLru, createLoader, selectionOf } from "./state.js";
import { buildView, bindControls, buildStructure, renderChoices, syncControls, loaderHooks, setStatus, createStrip } from "./view.js";
import { paint, drawBases, drawLegend } from "./paint.js";
import { attachPointer, attachPinning } from "./pointer.js";
import { attachKeyboard } from "./keyboard.js";
import { createImageDecoder } from "./image.js";

function render({ model, el }) {
  const rpc = createRpc(model, { timeoutMs: model.get("request_timeout_ms") || 60000 });
  const view = buildView(el);
  const app = {
    model, view, cache: createLru(CACHE_ENTRIES), structure: null, image: null,
    hover: -1, alignedHover: -1, paintCount: 0, scratch: document.createElement("canvas"), column: null,
  };
  const loader = createLoader({
    rpc, cache: app.cache, selection: () => selectionOf(model), numLayers: () => model.get("num_layers"),
    ...loaderHooks(view, { ready: () => paint(app), retry: () => loader.ensure() }),
  });
  const decodeImage = createImageDecoder({
    onImage: (image) => { app.image = image; drawBases(app); paint(app); },
    onError: (message) => setStatus(view, "error", message),
  });
  const showImage = () => decodeImage(model.get("_image"), model.get("_image_format"));
  const strip = createStrip(view, model);
  const sync = () => { syncControls(view, model); drawLegend(view.legend, model.get("colormap"), model.get("log_scale")); };
  const rebuild = () => {
    app.cache.clear();
    app.structure = buildStructure(view, model, (hd) => setTrait(model, "head", hd));
    app.structure.heads.forEach((c) => attachPointer(app, c.canvas, false));
    drawBases(app);
    sync();
  };
  bindControls(view, model);
  attachKeyboard(view.root, model);
  attachPointer(app, view.focusCanvas, true);
  attachPinning(app, view.focusCanvas);
  const off = listen(model, [
    ["change:layer change:image_index change:mode", () => { sync(); strip.mark(); loader.ensure(); }],
    ["change:head change:query change:colormap change:opacity change:log_scale change:head_tags", () => { sync(); paint(app); }],
    ["change:_modes change:_colormaps", () => { renderChoices(view, model); sync(); paint(app); }],
    ["change:_image change:_image_format", showImage],
    ["change:_thumbnails", strip.render],
    ["change:grid change:num_heads change:prefix_names change:num_layers change:model_name change:_session_version",
      () => { rebuild(); loader.ensure(); }],
  ]);

  renderChoices(view, model);
  rebuild();
  strip.render();
  Object.assign(view.root.dataset, { hoverCell: "-1", ready: "false" });
  showImage();
  loader.ensure();
  return () => {
    off();
    rpc.dispose();
    strip.dispose();
  };
}

export default { render };
