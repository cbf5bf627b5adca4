// Builds the prebuilt JupyterLab extension "vitwidgets-bokehjs" into
// ../vitwidgets/static/labextension/ (pip installs that folder as
// share/jupyter/labextensions/vitwidgets-bokehjs, see pyproject.toml):
//   package.json            name, version and the "jupyterlab._build" entry JupyterLab reads
//   static/remoteEntry.<hash>.js   the extension container (src/labextension/index.js)
// BokehJS itself (static/bokeh.min.js) is copied from the installed bokeh package by the
// Python build hook (../hatch_build.py), which runs where that package is importable.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

export const NAME = "vitwidgets-bokehjs";

export async function buildLabextension(here, outdir) {
  const dir = path.join(outdir, "labextension");
  const statics = path.join(dir, "static");
  mkdirSync(statics, { recursive: true });
  const result = await build({
    entryPoints: [path.join(here, "src", "labextension", "index.js")],
    bundle: true,
    format: "iife",
    write: false,
    minify: true,
    target: ["es2020"],
    logLevel: "info",
  });
  const code = result.outputFiles[0].contents;
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 12);
  for (const f of readdirSync(statics)) if (/^remoteEntry\..*\.js$/.test(f)) rmSync(path.join(statics, f));
  const entry = `remoteEntry.${hash}.js`;
  writeFileSync(path.join(statics, entry), code);
  const pkg = JSON.parse(readFileSync(path.join(here, "package.json"), "utf8"));
  const manifest = {
    name: NAME,
    version: pkg.version,
    description: "vitwidgets: BokehJS once per page (offline) and themed bokeh plots",
    license: pkg.license,
    jupyterlab: { _build: { load: `static/${entry}`, extension: "./extension" } },
  };
  writeFileSync(path.join(dir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  return path.join(statics, entry);
}
