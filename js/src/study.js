// What the study views (RepresentationMap, DepthProfile) share around their chart: the root
// with a toolbar (title, PNG button), the status line (progress while the dataset streams, the
// kernel's error, a lost kernel), one canvas, a readout line, the PNG export (button and the
// kernel's `export_png` request) and a repaint when the page's theme changes.

import { h, ensureStyle } from "./dom.js";
import { canvasPng, downloadBytes } from "./explorer/export.js";

const CSS = `
.vw-study { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, currentColor); }
.vw-study .vw-study-bar { display: flex; gap: 8px; align-items: center; margin-bottom: 4px; }
.vw-study .vw-study-title { font-weight: 600; }
.vw-study .vw-export { margin-left: auto; border: 1px solid #999; background: var(--jp-layout-color1, transparent); color: inherit; padding: 1px 8px; cursor: pointer; font: inherit; }
.vw-study canvas { display: block; cursor: crosshair; }
.vw-study .vw-status { min-height: 1.4em; color: var(--jp-ui-font-color2, #666); }
.vw-study .vw-status[data-kind="error"] { color: var(--jp-error-color1, #b00020); }
.vw-study .vw-readout { min-height: 1.4em; font-variant-numeric: tabular-nums; }
`;

/**
 * The DOM of a study view inside el.
 * @param {string} className the root's own class (e.g. "vw-repmap")
 * @returns {{root, title, exportButton, status, canvas, readout}}
 */
export function buildStudyView(el, className, canvasClass) {
  el.replaceChildren();
  ensureStyle("vw-study-style", CSS, el);
  const title = h("span", { className: "vw-study-title" });
  const exportButton = h("button", { className: "vw-export", title: "Download this view as a PNG (white background)" }, "PNG");
  const status = h("div", { className: "vw-status" });
  const canvas = h("canvas", { className: canvasClass });
  const readout = h("div", { className: "vw-readout" });
  const root = h("div", { className: `vw-study ${className}` }, h("div", { className: "vw-study-bar" }, title, exportButton), status, canvas, readout);
  el.appendChild(root);
  return { root, title, exportButton, status, canvas, readout };
}

/**
 * What the status line says: the kernel's error (kind "error"), a lost kernel, the progress,
 * or nothing. Mirrored on the root as data-error / data-status.
 */
export function statusOf({ error = "", status = "", lost = null }) {
  if (lost) return { kind: "error", text: lost };
  if (error) return { kind: "error", text: error };
  return { kind: status ? "progress" : "", text: status };
}

/** Show statusOf(state) in the view's status line and on the root's data-* hooks. */
export function showStatus(view, state) {
  const { kind, text } = statusOf(state);
  view.status.textContent = text;
  view.status.dataset.kind = kind;
  view.root.dataset.error = kind === "error" ? text : "";
  view.root.dataset.status = kind === "progress" ? text : "";
  if (state.lost) view.root.dataset.disconnected = "true";
}

/** Resolves once root.dataset.ready is "true" (checked every 50 ms); rejects after waitMs. */
export function whenReady(root, waitMs, what = "this view") {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = () => {
      if (root.dataset.ready === "true") return resolve();
      if (Date.now() - t0 >= waitMs) {
        const why = root.dataset.error ? ` (${root.dataset.error})` : root.dataset.status ? ` (${root.dataset.status})` : "";
        return reject(new Error(`${what} is not computed yet${why}: wait for it, then export again`));
      }
      setTimeout(check, 50);
    };
    check();
  });
}

/**
 * The PNG button downloads the view; the kernel's `export_png` ({scale, wait_ms}) gets the
 * same bytes once the view is complete. png(scale) -> canvas; name() -> the file's name.
 * @returns {() => void} releases the last download's object URL
 */
export function bindStudyExport(view, rpc, { png, name, what }) {
  let url = null;
  const release = () => { if (url) URL.revokeObjectURL(url); url = null; };
  const bytesOf = async (scale) => {
    const canvas = png(scale);
    return { bytes: await canvasPng(canvas), width: canvas.width, height: canvas.height };
  };
  view.exportButton.addEventListener("click", () => {
    bytesOf(2).then((p) => { release(); url = downloadBytes(document, p.bytes, name()); },
      (err) => showStatus(view, { error: `PNG export failed: ${err.message}` }));
  });
  rpc.serve("export_png", async ({ scale = 2, wait_ms: waitMs = 0 } = {}) => {
    await whenReady(view.root, waitMs, what);
    const p = await bytesOf(scale);
    return { result: { width: p.width, height: p.height, name: name() }, buffers: [p.bytes] };
  });
  return release;
}

/**
 * Call onChange when the page's theme may have changed: JupyterLab's body attributes
 * (data-jp-theme-light), a class change on <html>/<body> (other hosts' dark mode) or the
 * system's colour scheme; and once `root` (the view's root, when given) is on the page.
 * @returns {() => void} stops watching
 */
export function watchTheme(doc, onChange, root = null) {
  const observer = new doc.defaultView.MutationObserver(() => onChange());
  for (const el of [doc.documentElement, doc.body]) observer.observe(el, { attributes: true, attributeFilter: ["class", "data-jp-theme-light", "data-theme"] });
  const media = doc.defaultView.matchMedia?.("(prefers-color-scheme: dark)");
  media?.addEventListener?.("change", onChange);
  // a view painted before the host put it on the page read no text colour (a detached element
  // has no computed style) and drew in the light colours: once `root` is on the page, again
  let stopped = false;
  let frames = 0;
  const raf = doc.defaultView.requestAnimationFrame?.bind(doc.defaultView);
  const onPage = () => {
    if (stopped) return;
    if (root.isConnected) onChange();
    else if (++frames < 600 && raf) raf(onPage);
  };
  if (root && !root.isConnected && raf) raf(onPage);
  return () => { stopped = true; observer.disconnect(); media?.removeEventListener?.("change", onChange); };
}

/** Size a canvas to width x height CSS px (the attribute size equals the CSS size). */
export function sizeCanvas(canvas, width, height) {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
}
