"""Smoke test of the browser stack itself: anywidget, ipywidgets and offline bokeh in JupyterLab.

It does not touch vitwidgets; it proves the harness (server, kernel, Chromium, Playwright) and the
two widget paths the toolkit depends on, so that a failure of the widget tests can be told apart
from a broken stack: an anywidget with an inline ES module whose clicks reach a Python trait, a
stock ipywidgets IntSlider, and a jupyter_bokeh BokehModel rendered with BokehJS loaded INLINE
whose glyph taps reach a Python callback. One notebook (one kernel start) for all of it.

(The earlier version of this test timed out on the IntSlider: it looked for ``.widget-slider``
*inside* the element carrying ``add_class('smoke-slider')``, but in ipywidgets 8 that element is
the slider's root and carries ``widget-slider`` itself, so the locator never matched. The slider
had rendered.)
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

CLICKER = r'''
import anywidget, traitlets, ipywidgets as W

class Clicker(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const b = document.createElement('button');
      b.className = 'smoke-clicker';
      const show = () => { b.textContent = 'clicks: ' + model.get('count');
                           b.dataset.count = String(model.get('count')); };
      b.addEventListener('click', () => {
        model.set('count', model.get('count') + 1); model.save_changes(); });
      model.on('change:count', show);
      show();
      el.appendChild(b);
    }
    export default { render };
    """
    count = traitlets.Int(0).tag(sync=True)

clicker = Clicker()
echo = W.Label(value='py:0')
echo.add_class('smoke-echo')
clicker.observe(lambda ch: setattr(echo, 'value', f'py:{ch.new}'), 'count')
slider = W.IntSlider(value=7, min=0, max=10, description='smoke')
slider.add_class('smoke-slider')
W.VBox([clicker, echo, slider])
'''

BOKEH_LOAD = r"""
from bokeh.io import output_notebook
from bokeh.resources import INLINE
output_notebook(INLINE, hide_banner=True)
"""

# A 300x300 frame with no borders, axes or toolbar: data (x, y) in [0,1]^2 sits at canvas pixel
# (300 x, 300 (1 - y)), so the test can tap a glyph without asking BokehJS where it is.
BOKEH_PLOT = r"""
import ipywidgets as W
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure
from jupyter_bokeh import BokehModel

src = ColumnDataSource(dict(x=[0.25, 0.75], y=[0.25, 0.75]))
p = figure(width=300, height=300, x_range=(0, 1), y_range=(0, 1), tools='tap',
           toolbar_location=None, min_border=0)
p.axis.visible = False
p.grid.visible = False
p.outline_line_color = None
p.scatter('x', 'y', size=30, source=src)
tapped = W.Label(value='tapped:none')
tapped.add_class('bokeh-tapped')
src.selected.on_change('indices', lambda attr, old, new: setattr(tapped, 'value', f'tapped:{new}'))
plot = BokehModel(p)
plot.add_class('smoke-bokeh')
W.VBox([plot, tapped])
"""


def _wait_text(page, selector: str, text: str, timeout_ms: int = 30_000) -> None:
    try:
        page.wait_for_function(
            "([s, t]) => { const e = document.querySelector(s);"
            " return !!e && e.textContent.trim() === t; }",
            arg=[selector, text], timeout=timeout_ms, polling=50,
        )
    except Exception as exc:
        got = page.evaluate("s => document.querySelector(s)?.textContent", selector)
        raise AssertionError(f"{selector}: expected text {text!r}, have {got!r}") from exc


def test_anywidget_ipywidgets_and_inline_bokeh_work(lab):
    lab.open_notebook(lab.write_notebook("smoke.ipynb", [CLICKER, BOKEH_LOAD, BOKEH_PLOT]))
    lab.run_all()
    page = lab.page

    # anywidget: the view renders, clicks reach Python and come back
    _wait_text(page, ".jp-OutputArea-output .smoke-clicker", "clicks: 0")
    button = page.locator(".jp-OutputArea-output .smoke-clicker")
    button.click()
    button.click()
    _wait_text(page, ".jp-OutputArea-output .smoke-clicker", "clicks: 2")
    _wait_text(page, ".jp-OutputArea-output .smoke-echo", "py:2")  # Python observer's echo

    # stock ipywidgets: the slider root carries add_class's class and widget-slider itself
    slider = page.locator(".jp-OutputArea-output .smoke-slider.widget-slider")
    _wait_text(page, ".jp-OutputArea-output .smoke-slider .widget-readout", "7")
    box = slider.bounding_box()
    assert box and box["width"] > 100, f"IntSlider not laid out: {box}"

    # bokeh INLINE: real pixels, and taps reach the Python callback
    _wait_text(page, ".jp-OutputArea-output .bokeh-tapped", "tapped:none")
    canvas = page.locator(".smoke-bokeh canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and round(box["width"]) == 300 and round(box["height"]) == 300, box
    # the glyph at data (0.75, 0.75) is painted (bokeh's default blue); the centre is empty
    pixels = canvas.evaluate(
        """(c) => { const g = c.getContext('2d'); const s = c.width / 300;
                    const at = (x, y) => Array.from(g.getImageData(x * s, y * s, 1, 1).data);
                    return { dot: at(225, 75), empty: at(150, 150) }; }"""
    )
    assert pixels["dot"][3] > 0 and pixels["dot"][2] > pixels["dot"][0], pixels
    assert pixels["empty"][3] == 0 or pixels["empty"][:3] == [255, 255, 255], pixels
    # (a real click at canvas positions: bokeh's event layer above the canvas receives it)
    page.mouse.click(box["x"] + 225, box["y"] + 75)  # index 1
    _wait_text(page, ".jp-OutputArea-output .bokeh-tapped", "tapped:[1]")
    errors = [m for m in lab.console if "Could not create a view" in m or "[pageerror]" in m]
    assert not errors, errors
