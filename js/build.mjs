// Builds one self-contained ESM bundle per widget into ../vitwidgets/static/ (no code splitting,
// no CDN imports: everything the widget needs is inside its file).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { buildLabextension } from "./labextension.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "..", "vitwidgets", "static");
// output name (vitwidgets/static/<name>.js, loaded by the Python widgets) -> its entry module
const widgets = ["explorer", "annotator", "repmap", "depth", "features", "concepts"];

await build({
  entryPoints: Object.fromEntries(widgets.map((w) => [w, path.join(here, "src", w, "index.js")])),
  outdir,
  bundle: true,
  format: "esm",
  splitting: false,
  minify: process.argv.includes("--minify"),
  sourcemap: false,
  target: ["es2020"],
  logLevel: "info",
});

// the JupyterLab extension that puts BokehJS on the page once (see labextension.mjs)
await buildLabextension(here, outdir);
