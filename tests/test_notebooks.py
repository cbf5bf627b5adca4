"""Every notebook under notebooks/ executes headless (nbclient), top to bottom, without error,
and imports no name it never uses (ruff's F401 on the notebooks)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def unused_imports(paths: list[Path]) -> list[str]:
    """``"<notebook>:cell <n>: <name>"`` for every imported name a notebook never uses
    (ruff F401, run in isolation from the project's config, which excludes notebooks)."""
    from ruff.__main__ import find_ruff_bin

    if not paths:
        return []
    out = subprocess.run(
        [find_ruff_bin(), "check", "--isolated", "--no-cache", "--select", "F401",
         "--output-format", "json", *map(str, paths)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if out.returncode not in (0, 1):
        raise RuntimeError(f"ruff failed ({out.returncode}): {out.stderr}")
    return [f"{Path(d['filename']).name}:cell {d.get('cell', '?')}: {d['message']}"
            for d in json.loads(out.stdout or "[]")]


def test_unused_import_finder_flags_a_notebook_that_imports_a_name_it_never_uses(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": "a",
         "source": "import os\nfrom pathlib import Path\n"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": "b",
         "source": "print(Path.cwd())\n"},
    ]}
    path = tmp_path / "demo.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    found = unused_imports([path])
    assert len(found) == 1 and "`os` imported but unused" in found[0], found
    assert found[0].startswith("demo.ipynb:cell 1")


def test_no_notebook_imports_a_name_it_never_uses():
    assert NOTEBOOKS, "no notebooks found"
    assert unused_imports(NOTEBOOKS) == []


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes_headless(path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [
        out for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]
    assert not errors, errors
