"""vw.plots: one-call bokeh figures whose legends sit outside the data, whose colours all have
a key, and whose axes are logarithmic where asked. Checked on the bokeh models they return."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from bokeh.models import ColorBar, Legend, LinearColorMapper, LogScale
from bokeh.palettes import Viridis256

import vitwidgets as vw
from vitwidgets import plots

PLOTS_DIR = Path(plots.__file__).parent


def legends_of(fig) -> dict[str, list[Legend]]:
    """The legends of a figure by the side they are placed on."""
    return {side: [m for m in getattr(fig, side) if isinstance(m, Legend)]
            for side in ("center", "right", "left", "above", "below")}


def legend_labels(fig) -> list[str]:
    (legend,) = legends_of(fig)["right"]
    return [item.label["value"] for item in legend.items]


def test_plots_is_reachable_from_the_facade():
    assert vw.plots is plots
    assert "plots" in dir(vw)


def test_plots_import_neither_torch_nor_the_metrics():
    banned = ("torch", "vitwidgets.core", "vitwidgets.metrics", "vitwidgets.widgets")
    for path in PLOTS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.startswith(banned)], (path.name, names)


def test_per_head_puts_the_legend_right_of_the_frame_with_one_entry_per_model_and_reference():
    values = {"mae": np.arange(12.0).reshape(3, 4), "dino": torch.ones(3, 4)}
    fig = plots.per_head(values, title="t", y_label="px", refs={"uniform attention": 33.0})
    assert legends_of(fig)["center"] == []
    assert legend_labels(fig) == ["mae", "dino", "uniform attention"]
    assert every_key_draws_a_glyph(fig)
    (legend,) = legends_of(fig)["right"]
    ref_line = legend.items[-1].renderers[0]
    assert list(ref_line.data_source.data["y"]) == [33.0, 33.0]
    assert ref_line.glyph.line_dash != []  # not solid: apart from the data lines


def test_per_head_dots_sit_at_each_block_and_the_line_is_the_mean_over_heads():
    v = np.array([[1.0, 3.0], [10.0, 30.0]])
    fig = plots.per_head({"m": v}, title="t", y_label="y")
    (legend,) = legends_of(fig)["right"]
    dots, line = legend.items[0].renderers
    assert list(dots.data_source.data["y"]) == [1.0, 3.0, 10.0, 30.0]
    assert list(dots.data_source.data["layer"]) == [0, 0, 1, 1]
    assert list(line.data_source.data["y"]) == [2.0, 20.0]


def test_per_head_log_axis_when_asked_and_a_clear_error_for_bad_input():
    fig = plots.per_head({"m": np.ones((2, 2))}, title="t", y_label="y", y_axis_type="log")
    assert isinstance(fig.y_scale, LogScale)
    with pytest.raises(ValueError, match=r"expected 2 dimension\(s\), got shape \(4,\)"):
        plots.per_head({"m": np.ones(4)}, title="t", y_label="y")
    with pytest.raises(ValueError, match="y_axis_type must be one of"):
        plots.per_head({"m": np.ones((2, 2))}, title="t", y_label="y", y_axis_type="symlog")


def test_per_layer_keys_the_colours_the_line_styles_and_the_references():
    fig = plots.per_layer({"supervised": [0.1, 0.5, 0.8]}, dashed={"supervised": [0.1, 0.4, 0.7]},
                          styles=("now", "recorded"), refs={"chance": 1 / 12},
                          title="k-NN", y_label="top-1", y_range=(0, 1))
    assert legend_labels(fig) == ["supervised", "solid: now", "dashed: recorded", "chance"]
    assert legends_of(fig)["center"] == []
    (legend,) = legends_of(fig)["right"]
    solid, dots, dashed = legend.items[0].renderers
    assert dashed.glyph.line_dash != [] and solid.glyph.line_dash == []
    assert dashed.glyph.line_color == solid.glyph.line_color
    with pytest.raises(ValueError, match="styles="):
        plots.per_layer({"a": [1, 2]}, dashed={"a": [1, 2]}, title="t", y_label="y")


def test_per_layer_names_the_ticks_and_puts_depths_on_a_common_scale():
    fig = plots.per_layer({"a": [1, 2, 3]}, x_labels=["embedding", "0", "1"], title="t",
                          y_label="y")
    assert fig.xaxis[0].major_label_overrides == {0: "embedding", 1: "0", 2: "1"}
    fig = plots.per_layer({"six": np.ones(6), "twelve": np.ones(12)}, relative_depth=True,
                          title="t", y_label="y")
    (legend,) = legends_of(fig)["right"]
    xs = [r.data_source.data["x"] for item in legend.items for r in item.renderers]
    assert all(float(np.min(x)) == 0.0 and float(np.max(x)) == 1.0 for x in xs)
    assert fig.xaxis[0].axis_label == "relative depth"


def test_heatmap_has_a_titled_colour_bar_and_row_zero_at_the_bottom():
    mat = np.array([[1.0, 0.2, 0.1], [0.2, 1.0, 0.5]])
    fig = plots.heatmap(mat, title="CKA", x_label="dino block", y_label="mae block",
                        colorbar_title="linear CKA", low=0, high=1)
    (bar,) = [m for m in fig.right if isinstance(m, ColorBar)]
    assert bar.title == "linear CKA"
    assert (bar.color_mapper.low, bar.color_mapper.high) == (0.0, 1.0)
    data = fig.renderers[0].data_source.data
    cell = {(int(x), int(y)): v for x, y, v in zip(data["x"], data["y"], data["v"], strict=True)}
    assert cell[(2, 1)] == 0.5 and cell[(1, 0)] == 0.2
    assert not [m for m in plots.heatmap(mat, title="t", x_label="x", y_label="y",
                                         colorbar_title="c", colorbar=False).right
                if isinstance(m, ColorBar)]


def test_per_latent_log_axis_keys_the_three_latent_kinds_and_names_blocks_on_the_ticks():
    var = 10.0 ** np.arange(5)  # 2 blocks: spans four decades
    fig = plots.per_latent(var, title="variance", y_label="variance", y_axis_type="log")
    assert isinstance(fig.y_scale, LogScale)
    assert legend_labels(fig) == ["embedding", "after MSA", "after MLP"]
    assert every_key_draws_a_glyph(fig)
    assert fig.xaxis[0].major_label_overrides == {0: "emb", 2: "b0", 4: "b1"}
    assert plots.latent_kinds(5) == ["embedding", "after MSA", "after MLP", "after MSA",
                                     "after MLP"]
    with pytest.raises(ValueError, match="odd number"):
        plots.latent_kinds(4)


def test_fourier_profiles_colour_depth_light_to_dark_with_a_titled_colour_bar():
    prof = np.zeros((5, 3))
    fig = plots.fourier_profiles(prof, np.array([0.0, 0.5, 1.0]))
    (bar,) = [m for m in fig.right if isinstance(m, ColorBar)]
    assert bar.title == "latent (depth)"
    assert (bar.color_mapper.low, bar.color_mapper.high) == (0, 4)
    colours = [r.glyph.line_color for r in fig.renderers]
    assert colours[0] == Viridis256[-1] and colours[-1] == Viridis256[0]
    with pytest.raises(ValueError, match="3 frequencies, frequencies 2"):
        plots.fourier_profiles(prof, np.array([0.0, 1.0]))


def every_key_draws_a_glyph(fig) -> bool:
    """BokehJS draws no legend glyph for a renderer without data: each legend entry needs
    one renderer with at least one row."""
    legends = [m for side in ("center", "right", "above") for m in getattr(fig, side)
               if isinstance(m, Legend)]
    return all(any(len(next(iter(r.data_source.data.values()), [])) for r in item.renderers)
               for legend in legends for item in legend.items)


def test_every_legend_entry_of_a_line_style_or_key_cell_has_a_glyph_to_draw():
    fig = plots.per_layer({"a": [1.0, 2.0]}, dashed={"a": [1.0, 1.5]}, styles=("x", "y"),
                          refs={"r": 1.0}, title="t", y_label="y")
    assert every_key_draws_a_glyph(fig)
    empty = plots.per_layer({"a": [1.0, 2.0]}, title="t", y_label="y")
    empty.legend[0].items[0].renderers = [empty.line([], [])]
    assert not every_key_draws_a_glyph(empty)  # the check itself can fail


def test_label_maps_key_each_row_in_its_own_cell_so_image_columns_stay_equal():
    imgs = [np.zeros((16, 16, 3), np.uint8)] * 2
    truth = np.array([[[0, 1], [2, 3]]] * 2)
    clusters = np.array([[[0, 0], [1, 1]]] * 2)
    grid = plots.label_maps(imgs, {"ground truth": truth, "k-means": clusters},
                            names={"ground truth": ["background", "other", "body", "roof"]})
    figs = {(r, c): f for f, r, c in grid.children if f is not None}
    keys = {r: f.center[-1] for (r, c), f in figs.items() if c == 2}
    assert [i.label["value"] for i in keys[1].items] == ["background", "other", "body", "roof"]
    assert [i.label["value"] for i in keys[2].items] == ["cluster 0", "cluster 1"]
    assert all(every_key_draws_a_glyph(f) for f in figs.values())
    assert {f.width for (r, c), f in figs.items() if c < 2} == {105}
    with pytest.raises(ValueError, match="has 1 maps for 2 images"):
        plots.label_maps(imgs, {"x": truth[:1]})


def test_heat_maps_share_one_titled_colour_scale_per_row():
    imgs = [np.zeros((16, 16, 3), np.uint8)] * 2
    maps = np.array([[[0.0, 0.1], [0.2, 0.3]], [[0.0, 0.5], [0.1, 0.1]]])
    grid = plots.heat_maps(imgs, {"mae b5": maps}, colorbar_title="CLS attention")
    figs = {(r, c): f for f, r, c in grid.children if f is not None}
    (bar,) = [m for m in figs[(1, 2)].left if isinstance(m, ColorBar)]
    assert bar.title == "CLS attention"
    assert (bar.color_mapper.low, bar.color_mapper.high) == (0.0, 0.5)
    mappers = {id(f.renderers[0].glyph.color_mapper) for (r, c), f in figs.items()
               if r == 1 and c < 2}
    assert mappers == {id(bar.color_mapper)} and isinstance(bar.color_mapper, LinearColorMapper)


def test_keypoint_matches_split_correct_and_wrong_matches_with_a_key():
    img = np.zeros((64, 64, 3), np.uint8)
    pts = np.array([[10.0, 10.0], [20.0, 30.0], [40.0, 50.0]])
    pred = (pts + [[0, 0], [0, 9], [0, 0]], np.array([True, False, True]))
    grid = plots.keypoint_matches(img, pts, img, pts, {"mae": pred, "dino": (pts, [True] * 3)})
    figs = {c: f for f, _, c in grid.children}
    (key,) = [m for m in figs[3].center if isinstance(m, Legend)]
    assert [i.label["value"] for i in key.items] == [
        "keypoint (A) / its truth (B)", "match, correct", "match, wrong"]
    assert every_key_draws_a_glyph(figs[3])
    (correct,) = figs[1].select(name="correct")
    (wrong,) = figs[1].select(name="wrong")
    assert len(correct.data_source.data["x"]) == 2
    assert list(wrong.data_source.data["x"]) == [39.0]
    assert list(wrong.data_source.data["y"]) == [64 - 20.0]  # row 0 at the top


def test_category_shares_stack_to_the_shares_and_key_them_outside():
    summary = [{"layer": 0, "category_share": {"colour": 1.0}, "num_concepts": 6},
               {"layer": 1, "category_share": {"colour": 0.25, "class": 0.75}, "num_concepts": 3}]
    fig = plots.category_shares(summary, ["colour", "class"], title="supervised")
    assert legend_labels(fig) == ["class", "colour", "distinct concepts"]
    assert every_key_draws_a_glyph(fig)
    assert legends_of(fig)["center"] == []
    data = fig.renderers[0].data_source.data
    assert list(data["colour"]) == [1.0, 0.25] and list(data["class"]) == [0.0, 0.75]
    assert not legends_of(plots.category_shares(summary, ["colour"], title="t",
                                                legend=False))["right"]


def test_a_legend_above_the_frame_lies_in_a_row_and_an_unknown_place_is_refused():
    fig = plots.per_head({"DINOv2": np.ones((2, 3))}, title="t", y_label="y", legend="above")
    (legend,) = legends_of(fig)["above"]
    assert legend.orientation == "horizontal" and not legends_of(fig)["right"]
    assert [i.label["value"] for i in legend.items] == ["DINOv2: heads (dots), mean (line)"]
    with pytest.raises(ValueError, match="legend place must be one of"):
        plots.per_layer({"a": [1.0, 2.0]}, title="t", y_label="y", legend="center")


def test_no_figure_or_key_cell_is_left_without_renderers():
    from bokeh.core.validation import check_integrity
    from bokeh.models import Plot

    imgs = [np.zeros((16, 16, 3), np.uint8)] * 2
    grid = plots.heat_maps(imgs, {"m": np.ones((2, 2, 2))}, colorbar_title="c")
    empty = [f for f, _, _ in grid.children if isinstance(f, Plot) and not f.renderers]
    assert empty == []
    issues = check_integrity(list(grid.references()))
    assert not [w for w in issues.warning if w.code == 1000], issues.warning


def test_show_displays_a_bokeh_widget_and_puts_no_bokehjs_in_the_output(monkeypatch):
    import IPython.display
    from bokeh.plotting import figure
    from jupyter_bokeh import BokehModel

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    fig = figure(width=200, height=150)
    vw.plots.show(fig)
    assert len(shown) == 1 and isinstance(shown[0], BokehModel)
    bundle = shown[0]._repr_mimebundle_()
    assert set(bundle) <= {"text/plain", "application/vnd.jupyter.widget-view+json"}
    with pytest.raises(TypeError, match="bokeh figure or layout, not ndarray"):
        vw.plots.show(np.zeros(3))


def test_every_figure_carries_the_name_the_dark_theme_follows():
    from vitwidgets.plots._style import THEMED

    dist = np.abs(np.random.default_rng(0).normal(size=(3, 2)))
    figures = [plots.per_head({"m": dist}, title="t", y_label="px"),
               plots.heatmap(np.eye(3), title="t", x_label="x", y_label="y",
                             colorbar_title="CKA")]
    assert THEMED.startswith("vw-plot-")  # the prefix js/src/labextension/theme.js themes
    assert all(f.name == THEMED for f in figures)
