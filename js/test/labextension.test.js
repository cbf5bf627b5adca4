// The JupyterLab extension's pure parts: loading BokehJS once, the theme colours it sets on
// bokeh models, and the watcher that reapplies them when the theme or the page changes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { JSDOM } from "jsdom";
import { loadScriptOnce, siblingUrl } from "../src/labextension/loader.js";
import { MEAN_LINE, PALETTES, applyTheme, isDarkTheme, plainValue, themeChanges, vitwidgetsPlots } from "../src/labextension/theme.js";
import { watchTheme } from "../src/labextension/watch.js";
import { saveLiveDocuments, withDocument } from "../src/labextension/savestate.js";

const page = () => new JSDOM("<!doctype html><html><head></head><body></body></html>", { pretendToBeVisual: true }).window;

test("siblingUrl resolves a file next to the extension's remoteEntry script", () => {
  const entry = "http://h:1/lab/extensions/vitwidgets-bokehjs/static/remoteEntry.abc.js";
  assert.equal(siblingUrl(entry, "bokeh.min.js"), "http://h:1/lab/extensions/vitwidgets-bokehjs/static/bokeh.min.js");
});

test("loadScriptOnce appends no script when the page has BokehJS already", async () => {
  const win = page();
  win.Bokeh = { version: "3.9.2" };
  assert.equal(await loadScriptOnce(win.document, win, "http://h/bokeh.min.js"), "present");
  assert.equal(win.document.querySelectorAll("script").length, 0);
});

test("loadScriptOnce appends one script for any number of callers and resolves when it defined the global", async () => {
  const win = page();
  const a = loadScriptOnce(win.document, win, "http://h/bokeh.min.js");
  const b = loadScriptOnce(win.document, win, "http://h/bokeh.min.js");
  const scripts = win.document.querySelectorAll("script");
  assert.equal(scripts.length, 1);
  assert.equal(scripts[0].src, "http://h/bokeh.min.js");
  win.Bokeh = {};
  scripts[0].onload();
  assert.equal(await a, "loaded");
  assert.equal(await b, "loaded");
});

test("loadScriptOnce rejects naming the URL when the script fails, defines nothing, or never answers", async () => {
  const win = page();
  const failed = loadScriptOnce(win.document, win, "http://h/a.js");
  win.document.querySelector("script").onerror();
  await assert.rejects(failed, /could not be loaded from http:\/\/h\/a\.js: the request failed/);
  const empty = loadScriptOnce(win.document, win, "http://h/b.js");
  [...win.document.querySelectorAll("script")].at(-1).onload();
  await assert.rejects(empty, /did not define window\.Bokeh/);
  const silent = loadScriptOnce(win.document, win, "http://h/c.js", { timeoutMs: 20 });
  await assert.rejects(silent, /no answer within 20 ms/);
});

/** A stand-in for a BokehJS model: `properties` names what it has, setv records and sets. */
function model(attrs, extra = {}) {
  const m = { ...attrs, ...extra, properties: Object.fromEntries(Object.keys(attrs).map((k) => [k, {}])), sets: [] };
  m.setv = (changes) => { m.sets.push(changes); Object.assign(m, changes); };
  return m;
}

function fakePlot(name) {
  const axis = model({ axis_line_color: "#000000", major_label_text_color: "#444444", axis_label_text_color: "#444444" });
  const grid = model({ grid_line_color: "#e5e5e5", minor_tick_line_color: null });
  const legend = model({ background_fill_color: "#ffffff", label_text_color: "#444444", border_line_color: "#e5e5e5" });
  const title = model({ text_color: "#444444" });
  const meanGlyph = model({ line_color: { value: "#222222" } }); // a glyph's spec, as BokehJS holds it
  const meanFaded = model({ line_color: { value: "#222222" } }); // painted while a head is selected
  const mean = { name: "vw-mean", glyph: meanGlyph, nonselection_glyph: meanFaded, selection_glyph: "auto", muted_glyph: null };
  const plot = model({ background_fill_color: "#ffffff", border_fill_color: "#ffffff", outline_line_color: "#e5e5e5" },
    { name, renderers: [mean, { name: "vw-dots", glyph: model({ line_color: "colour" }) }],
      below: [axis], left: [], center: [grid], above: [legend], title });
  return { plot, axis, grid, legend, meanGlyph, meanFaded, title };
}

test("the dark palette sets a dark background with light text; the light one the reverse", () => {
  const lum = (hex) => parseInt(hex.slice(1, 3), 16);
  assert.ok(lum(PALETTES.dark.background_fill_color) < 64 && lum(PALETTES.dark.axis_label_text_color) > 192);
  assert.ok(lum(PALETTES.light.background_fill_color) > 240 && lum(PALETTES.light.axis_label_text_color) < 80);
  assert.deepEqual(Object.keys(PALETTES.dark).sort(), Object.keys(PALETTES.light).sort());
});

test("plainValue reads a glyph's {value} spec and passes other values through", () => {
  assert.equal(plainValue({ value: "#222222" }), "#222222");
  assert.equal(plainValue("#ffffff"), "#ffffff");
  assert.equal(plainValue(null), null);
  assert.deepEqual(plainValue({ field: "colour" }), { field: "colour" });
});

test("themeChanges lists only the properties a model has and whose colour differs", () => {
  const { plot, axis, grid, legend, meanGlyph, meanFaded, title } = fakePlot("vw-plot-entropy");
  assert.deepEqual(themeChanges(plot, "light").map(([m, a]) => [m, Object.keys(a)]), [[axis, ["axis_line_color"]]]);
  const dark = new Map(themeChanges(plot, "dark"));
  assert.equal(dark.get(plot).background_fill_color, PALETTES.dark.background_fill_color);
  assert.deepEqual(dark.get(grid), { grid_line_color: PALETTES.dark.grid_line_color }, "a colour that is off stays off");
  assert.equal(dark.get(legend).label_text_color, PALETTES.dark.label_text_color);
  assert.deepEqual(dark.get(meanGlyph), { line_color: MEAN_LINE.dark });
  assert.deepEqual(dark.get(meanFaded), { line_color: MEAN_LINE.dark }, "the line stays light while a head is selected");
  assert.deepEqual(dark.get(title), { text_color: PALETTES.dark.text_color }, "the title is a property, not a panel");
  assert.equal(dark.size, 7, "the dots' glyph keeps its tag colours");
});

test("applyTheme recolours vitwidgets plots of every document and leaves other plots alone", () => {
  const ours = fakePlot("vw-plot-nmi");
  const theirs = fakePlot("someone-else");
  const doc = { _all_models: new Map([["1", ours.plot], ["2", theirs.plot], ["3", ours.axis]]) };
  assert.deepEqual(vitwidgetsPlots([doc]), [ours.plot]);
  assert.equal(applyTheme([doc], "dark"), 7);
  assert.equal(ours.plot.background_fill_color, PALETTES.dark.background_fill_color);
  assert.equal(theirs.plot.background_fill_color, "#ffffff");
  assert.equal(applyTheme([doc], "dark"), 0, "nothing is set twice (no needless sync to the kernel)");
  assert.equal(applyTheme([doc], "light") > 0, true);
  assert.equal(ours.meanGlyph.line_color, MEAN_LINE.light);
  assert.equal(ours.meanFaded.line_color, MEAN_LINE.light);
  assert.equal(applyTheme([doc], "light"), 0, "a glyph's {value} spec equal to the theme's colour is left alone");
});

test("isDarkTheme reads JupyterLab's data-jp-theme-light", () => {
  const win = page();
  assert.equal(isDarkTheme(win.document.body), false, "no JupyterLab theme: light");
  win.document.body.dataset.jpThemeLight = "false";
  assert.equal(isDarkTheme(win.document.body), true);
  win.document.body.dataset.jpThemeLight = "true";
  assert.equal(isDarkTheme(win.document.body), false);
});

test("watchTheme applies at once, after a theme switch and after new content, then stops", async () => {
  const win = page();
  const seen = [];
  const stop = watchTheme({ doc: win.document, win, apply: (t) => seen.push(t) });
  const frame = () => new Promise((r) => win.requestAnimationFrame(() => setTimeout(r, 0)));
  await frame();
  assert.deepEqual(seen, ["light"]);
  win.document.body.dataset.jpThemeLight = "false";
  await frame();
  assert.deepEqual(seen, ["light", "dark"]);
  win.document.body.append(win.document.createElement("div"));
  win.document.body.append(win.document.createElement("div"));
  await frame();
  assert.deepEqual(seen, ["light", "dark", "dark"], "one call per frame however many changes");
  stop();
  win.document.body.dataset.jpThemeLight = "true";
  await frame();
  assert.equal(seen.length, 3);
});

test("withDocument replaces the one document of a render bundle, in text or object form", () => {
  const bundle = { docs_json: { d1: { roots: ["old"] } }, render_items: [{ docid: "d1" }], div: "<div></div>" };
  const text = withDocument(JSON.stringify(bundle), { roots: ["new"] });
  assert.deepEqual(JSON.parse(text), { ...bundle, docs_json: { d1: { roots: ["new"] } } });
  assert.deepEqual(withDocument(bundle, { roots: ["new"] }).docs_json, { d1: { roots: ["new"] } });
  const two = { docs_json: { a: {}, b: {} } };
  assert.equal(withDocument(two, {}), two, "a bundle of several documents stays as it is");
});

/** Stand-ins for jupyter_bokeh's widget classes: render() makes a document, get_state() the bundle. */
function bokehClasses(documentOf) {
  class BokehModel {
    constructor() { this.render_bundle = JSON.stringify({ docs_json: { d: { first: true } }, render_items: [], div: "" }); }
    get_state() { return { render_bundle: this.render_bundle, combine_events: false }; }
  }
  class BokehView {
    constructor(model) { this.model = model; this._document = null; }
    render() { this._document = documentOf(this.model); return "rendered"; }
  }
  return { BokehModel, BokehView };
}

const liveDoc = (name, json) => ({ _all_models: new Map([["p", { name, renderers: [] }]]), to_json: (defaults) => ({ ...json, defaults }) });

test("saveLiveDocuments saves the shown document of vitwidgets plots, and only theirs", () => {
  const docs = new Map();
  const classes = bokehClasses((m) => docs.get(m));
  assert.equal(saveLiveDocuments(classes), true);
  assert.equal(saveLiveDocuments(classes), false, "patched once");
  const ours = new classes.BokehModel();
  const theirs = new classes.BokehModel();
  const unseen = new classes.BokehModel();
  docs.set(ours, liveDoc("vw-plot-nmi", { roots: ["dots"] }));
  docs.set(theirs, liveDoc("a-user-plot", { roots: ["x"] }));
  assert.equal(new classes.BokehView(ours).render(), "rendered");
  new classes.BokehView(theirs).render();
  const saved = JSON.parse(ours.get_state().render_bundle);
  assert.deepEqual(saved.docs_json, { d: { roots: ["dots"], defaults: false } });
  assert.equal(ours.get_state().combine_events, false, "the other traits are kept");
  assert.deepEqual(JSON.parse(theirs.get_state().render_bundle).docs_json, { d: { first: true } });
  assert.deepEqual(JSON.parse(unseen.get_state().render_bundle).docs_json, { d: { first: true } }, "never rendered: as sent");
});

test("saveLiveDocuments keeps the first state when the live document cannot be written", () => {
  const classes = bokehClasses(() => ({ _all_models: new Map([["p", { name: "vw-plot-nmi", renderers: [] }]]), to_json: () => { throw new Error("boom"); } }));
  const warnings = [];
  saveLiveDocuments(classes, { warn: (m) => warnings.push(m) });
  const m = new classes.BokehModel();
  new classes.BokehView(m).render();
  assert.deepEqual(JSON.parse(m.get_state().render_bundle).docs_json, { d: { first: true } });
  assert.match(warnings[0], /saved as first shown \(Error: boom\)/);
});
