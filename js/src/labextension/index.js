// The JupyterLab extension "vitwidgets-bokehjs": a prebuilt (federated) extension container,
// loaded by JupyterLab's bootstrap before any plugin runs. It puts BokehJS on the page once,
// from this extension's own folder (offline; the file is copied from the installed bokeh
// package when vitwidgets is installed), so that jupyter_bokeh's plots render, in saved
// notebooks too, without BokehJS travelling with every output. Its plugin gives vitwidgets'
// plots the colours of JupyterLab's light or dark theme, and makes a saved notebook keep them
// as they are shown (savestate.js).
import { loadScriptOnce, siblingUrl } from "./loader.js";
import { saveLiveDocuments } from "./savestate.js";
import { applyTheme } from "./theme.js";
import { watchTheme } from "./watch.js";

const NAME = "vitwidgets-bokehjs";
const JUPYTER_BOKEH = "@bokeh/jupyter_bokeh";
const here = document.currentScript?.src ?? window.location.href;
let bokehjs = null;
const loadBokehJS = () => {
  bokehjs ??= loadScriptOnce(document, window, siblingUrl(here, "bokeh.min.js")).catch((e) => {
    console.error(`vitwidgets: ${e.message}; the LayerMetrics plots cannot render`);
  });
  return bokehjs;
};

const documents = () => (window.Bokeh ? window.Bokeh.require("document").documents : []);

const plugin = {
  id: `${NAME}:theme`,
  description: "Colours vitwidgets' bokeh plots with JupyterLab's light or dark theme",
  autoStart: true,
  activate: async () => {
    watchTheme({ doc: document, win: window, apply: (theme) => applyTheme(documents(), theme) });
    const bokeh = window._JUPYTERLAB?.[JUPYTER_BOKEH];
    if (!bokeh) return console.warn(`vitwidgets: ${JUPYTER_BOKEH} is missing: no LayerMetrics plots`);
    // the same module instance jupyter_bokeh registered its widget classes from
    saveLiveDocuments((await bokeh.get("./extension"))());
  },
};

window._JUPYTERLAB = window._JUPYTERLAB ?? {};
window._JUPYTERLAB[NAME] = {
  // JupyterLab awaits init (and get) of every extension before it starts: BokehJS is there first
  init: () => loadBokehJS(),
  get: (module) => {
    if (module !== "./extension") return Promise.reject(new Error(`${NAME} has no module ${module}`));
    return loadBokehJS().then(() => () => ({ __esModule: true, default: plugin }));
  },
};
