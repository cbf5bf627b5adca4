// What a saved notebook keeps of a LayerMetrics plot. jupyter_bokeh's BokehModel holds the plot
// as the kernel first sent it (`render_bundle`); every later change (the metrics filling in, a
// selection, the theme) reaches the page as a document patch that the widget state never sees,
// so a reopened notebook would show empty plots. Patched here: a BokehModel whose document holds
// vitwidgets plots saves that document as it is shown.

import { vitwidgetsPlots } from "./theme.js";

const PATCHED = "__vitwidgetsLiveState";

/** `bundle` (render_bundle: JSON text or object) with its one document replaced by `docJson`;
 * the bundle unchanged when it does not hold exactly one document. */
export function withDocument(bundle, docJson) {
  const parsed = typeof bundle === "string" ? JSON.parse(bundle) : bundle;
  const ids = Object.keys(parsed?.docs_json ?? {});
  if (ids.length !== 1) return bundle;
  const out = { ...parsed, docs_json: { [ids[0]]: docJson } };
  return typeof bundle === "string" ? JSON.stringify(out) : out;
}

/**
 * Make `BokehModel.get_state` (what the widget manager saves) carry the live document of the
 * model's last rendered view when that document holds vitwidgets plots. Returns false when the
 * classes were patched already. Errors while reading the live document keep the original state.
 */
export function saveLiveDocuments({ BokehModel, BokehView }, log = console) {
  if (BokehModel.prototype[PATCHED]) return false;
  const live = new WeakMap(); // BokehModel -> its view's bokeh Document
  const render = BokehView.prototype.render;
  BokehView.prototype.render = function renderAndRemember(...args) {
    const out = render.apply(this, args);
    if (this._document) live.set(this.model, this._document);
    return out;
  };
  const getState = BokehModel.prototype.get_state;
  BokehModel.prototype.get_state = function getLiveState(...args) {
    const state = getState.apply(this, args);
    const doc = live.get(this);
    if (!doc || state.render_bundle === undefined || !vitwidgetsPlots([doc]).length) return state;
    try {
      return { ...state, render_bundle: withDocument(state.render_bundle, doc.to_json(false)) };
    } catch (e) {
      log.warn(`vitwidgets: the plot is saved as first shown (${e})`);
      return state;
    }
  };
  BokehModel.prototype[PATCHED] = true;
  return true;
}
