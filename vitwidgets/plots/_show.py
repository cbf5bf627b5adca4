"""Showing a figure in a notebook without putting BokehJS into the notebook."""

from __future__ import annotations

from typing import Any


def show(figure: Any) -> None:
    """Display a bokeh figure (or layout) in the notebook as a jupyter_bokeh widget.

    BokehJS comes from vitwidgets' JupyterLab extension, once per page, as for the dashboard's
    plots: unlike ``bokeh.io.output_notebook(INLINE)`` + ``bokeh.io.show``, nothing of BokehJS
    goes into the cell's output, so a saved notebook stays small. Outside JupyterLab and
    Notebook 7 (VS Code, Colab) call ``vw.load_bokehjs()`` once first.
    """
    from bokeh.model import Model
    from IPython.display import display
    from jupyter_bokeh import BokehModel

    if not isinstance(figure, Model):
        raise TypeError(f"show() takes a bokeh figure or layout, not {type(figure).__name__}")
    display(BokehModel(figure))
