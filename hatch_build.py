"""Build hook: put BokehJS into the JupyterLab extension ``vitwidgets-bokehjs``.

``js/labextension.mjs`` (run by ``npm run build``) writes the extension's container and
``package.json`` into ``vitwidgets/static/labextension/``; this hook copies ``bokeh.min.js``
of the bokeh package installed where the build runs (a build requirement) next to them, with
its version in ``bokehjs.json``, so that the page's BokehJS is the one bokeh was released
with. pip installs the folder as ``share/jupyter/labextensions/vitwidgets-bokehjs``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def copy_bokehjs(dest: Path) -> Path:
    """Copy the installed bokeh package's ``bokeh.min.js`` into ``dest``; returns the copy."""
    import bokeh
    from bokeh.util.paths import bokehjs_path

    source = Path(bokehjs_path()) / "js" / "bokeh.min.js"
    if not source.is_file():
        raise FileNotFoundError(f"bokeh {bokeh.__version__} has no {source}: reinstall bokeh")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest / "bokeh.min.js")
    (dest / "bokehjs.json").write_text(json.dumps({"version": bokeh.__version__}) + "\n")
    return dest / "bokeh.min.js"


class BokehJSHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        copy_bokehjs(Path(self.root) / "vitwidgets" / "static" / "labextension" / "static")
