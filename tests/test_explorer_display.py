"""The explorer's display options (colour scale, image dimming, grid lines) and the selection
it comes back to when its notebook cell is re-run (``vitwidgets/widgets/_recall.py``), without
a browser (the frontend: ``npm test``; in JupyterLab:
tests/browser/test_browser_colour_scale.py)."""

from __future__ import annotations

import pytest
import traitlets
from factories import IDENTITY, toy_trace

from vitwidgets.core.session import Session
from vitwidgets.core.vocab import SCALES
from vitwidgets.widgets import AttentionExplorer, _recall, explore
from vitwidgets.widgets._recall import SelectionMemory


@pytest.fixture
def session():
    return Session(toy_trace(num_layers=3, num_images=2), identity=IDENTITY)


class Cell:
    """A notebook cell being run: ``run()`` starts a new execution of it (a new message id)."""

    def __init__(self, cell_id="cell-1"):
        self.cell_id, self.runs = cell_id, 0

    def run(self):
        self.runs += 1
        return self

    def __call__(self):
        return (self.cell_id, f"msg-{self.cell_id}-{self.runs}")


@pytest.fixture
def cell(monkeypatch):
    """A fresh memory whose cells are simulated (JupyterLab sends metadata.cellId)."""
    c = Cell()
    monkeypatch.setattr(_recall, "SELECTIONS", SelectionMemory(execution=c))
    monkeypatch.setattr("vitwidgets.widgets.explorer.SELECTIONS", _recall.SELECTIONS)
    return c


def test_scale_dim_and_grid_lines_are_synced_options_with_researcher_defaults(session):
    w = AttentionExplorer(session)
    assert (w.scale, w.dim, w.grid_lines, w.contour) == ("map", 0.0, True, 0.0)
    assert [s["id"] for s in w._scales] == list(SCALES) == ["map", "layer", "absolute"]
    assert [s["label"] for s in w._scales] == ["per map", "per layer", "absolute"]
    state = w.get_state()
    assert {"scale", "dim", "grid_lines", "contour", "_scales"} <= set(state)
    w2 = AttentionExplorer(session, scale="layer", dim=0.5, grid_lines=False, contour=0.25)
    assert (w2.scale, w2.dim, w2.grid_lines, w2.contour) == ("layer", 0.5, False, 0.25)


def test_a_bad_scale_or_dim_says_what_was_expected(session):
    with pytest.raises(traitlets.TraitError, match=r"'scale'.*'map', 'layer', 'absolute'|"
                                                    r"'scale'.*'per-head'"):
        AttentionExplorer(session, scale="per-head")
    with pytest.raises(traitlets.TraitError, match="dim"):
        AttentionExplorer(session, dim=1.5)
    with pytest.raises(traitlets.TraitError, match="contour"):
        AttentionExplorer(session, contour=-0.1)
    with pytest.raises(TypeError, match=r"'scales' \(did you mean 'scale'\?\)"):
        explore(session, scales="layer")


def test_rerunning_the_cell_brings_back_image_layer_head_mode_and_pinned_query(session, cell):
    first = AttentionExplorer(session)
    first.image_index, first.layer, first.head, first.mode, first.query = 1, 2, 1, "column", 7
    again = AttentionExplorer(session)  # the same run of the cell: a second explorer, its own slot
    assert (again.layer, again.head) == (0, 0)
    cell.run()
    rerun = AttentionExplorer(session)
    assert (rerun.image_index, rerun.layer, rerun.head, rerun.mode, rerun.query) == (1, 2, 1,
                                                                                    "column", 7)


def test_values_passed_explicitly_win_and_a_query_comes_back_only_with_its_mode(session, cell):
    w = AttentionExplorer(session)
    w.layer, w.head, w.mode, w.query = 2, 1, "row", 5
    cell.run()
    w = AttentionExplorer(session, layer=1, mode="column")
    assert (w.layer, w.head, w.mode, w.query) == (1, 1, "column", -1)
    w.query = 3
    cell.run()
    w = AttentionExplorer(session, mode="column")
    assert (w.layer, w.head, w.mode, w.query) == (1, 1, "column", 3), "pinned in column mode"


def test_what_no_longer_fits_is_not_brought_back(session, cell):
    w = AttentionExplorer(session)
    w.image_index, w.layer = 1, 2
    cell.run()
    fewer = Session(toy_trace(num_layers=3, num_images=1), identity=IDENTITY)
    w = AttentionExplorer(fewer)
    assert (w.image_index, w.layer) == (0, 2), "one image now: image 1 is gone, layer 2 stays"
    w.mode = "cls"
    cell.run()
    no_prefix = Session(toy_trace(num_layers=3, num_images=1, num_prefix=0), identity=IDENTITY)
    w = AttentionExplorer(no_prefix)
    assert (w.layer, w.mode) == (0, "row"), "another model (no CLS) starts afresh"


def test_a_dashboard_rerun_comes_back_and_its_linked_views_follow(session, cell, tmp_path):
    d = explore(session, annotations=tmp_path / "a.json")
    d.explorer.layer, d.explorer.head = 2, 1
    cell.run()
    d = explore(session, annotations=tmp_path / "a.json")
    assert (d.explorer.layer, d.explorer.head) == (2, 1)
    assert (d.layer_metrics.layer, d.layer_metrics.head) == (2, 1)


def test_outside_a_notebook_cell_nothing_is_remembered(session, monkeypatch):
    monkeypatch.setattr(_recall, "SELECTIONS", SelectionMemory())  # the real cell lookup
    monkeypatch.setattr("vitwidgets.widgets.explorer.SELECTIONS", _recall.SELECTIONS)
    assert _recall.current_execution() is None
    w = AttentionExplorer(session)
    w.layer = 2
    assert AttentionExplorer(session).layer == 0


def test_the_memory_keeps_its_latest_entries_only():
    m = SelectionMemory(execution=lambda: None, max_entries=2)
    for i in range(3):
        m.remember((f"c{i}", 0, ("toy",)), {"layer": i, "other": 1})
    assert list(m._store) == [("c1", 0, ("toy",)), ("c2", 0, ("toy",))]
    assert m._store[("c2", 0, ("toy",))] == {"layer": 2}
