"""Expected user errors: in a notebook the user reads the message first, in a few lines, not a
traceback through vitwidgets internals; in Python they are still the builtin exceptions."""

from __future__ import annotations

import re

import nbformat
import pytest
import traitlets
from factories import IDENTITY, toy_trace

import vitwidgets as vw
from vitwidgets.core.errors import (
    FULL_TRACEBACK_HINT,
    UserError,
    UserFileNotFoundError,
    UserTypeError,
    UserValueError,
    error_name,
)
from vitwidgets.core.session import Session
from vitwidgets.widgets import HeadAnnotator

ANSI = re.compile(r"\x1b\[[0-9;]*m")

#: cell source -> the first line the user must see (a regex)
CASES = {
    "vw.explore(m)":
        r"^ValueError: give the images to look at: vw\.explore\(model, images\)$",
    "vw.HeadAnnotator(m)":
        r"^ValueError: give the images to look at: vw\.HeadAnnotator\(model, images\)$",
    "vw.load_model('vit_small_patch16_224.dino')":
        r"^WeightsUnavailableError: could not fetch pretrained weights for "
        r"'vit_small_patch16_224\.dino': the model hub is switched off here \(HF_HUB_OFFLINE=1\)",
    "vw.load_model('vit_smal_patch16_224', pretrained=False)":
        r"^ValueError: unknown timm model 'vit_smal_patch16_224'; did you mean",
    "vw.load_model('resnet18', pretrained=False)":
        r"^UnsupportedModelError: ResNet is not a supported Vision Transformer",
    "vw.explore(m, img, layr=1)":
        r"^TypeError: vw\.explore\(\) got unexpected keyword argument 'layr' "
        r"\(did you mean 'layer'\?\)",
    "vw.explore(m, img, cache='lots')":
        r"^ValueError: cache budget .*could not read 'lots'",
    "vw.explore(m, img, layer=99)":
        r"^TraitError: layer 99 out of range",
    "m.trace('no/such/picture.png')":
        r"^FileNotFoundError: image: no image file at 'no/such/picture\.png'$",
    "m.trace(np.zeros((64, 64, 7), dtype=np.uint8))":
        r"^ValueError: image has shape \(64, 64, 7\); expected a PIL image",
}


def _error_text(output: dict) -> list[str]:
    """The lines JupyterLab shows for an error output (its traceback, colours removed)."""
    return ANSI.sub("", "\n".join(output["traceback"])).splitlines()


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Every case run as a cell of one notebook in a real IPython kernel (HF_HUB_OFFLINE=1),
    then ``%tb verbose`` after the last one: ``{source: outputs}``."""
    from nbclient import NotebookClient

    setup = ("import os\nos.environ['HF_HUB_OFFLINE'] = '1'\nimport numpy as np\n"
             "import vitwidgets as vw\nm = vw.load_model('zoo:dino')\n"
             "img = vw.data.sample_image('chelsea')")
    cells = [setup, *CASES, "%tb verbose"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    where = tmp_path_factory.mktemp("user_errors")
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(where)}}).execute()
    return {c.source: c.outputs for c in nb.cells}


def test_setup_cell_ran_without_error(executed):
    setup = next(iter(executed.values()))
    assert not [o for o in setup if o["output_type"] == "error"], setup


@pytest.mark.parametrize("source", list(CASES))
def test_a_user_error_shows_its_message_first_in_at_most_five_lines(executed, source):
    errors = [o for o in executed[source] if o["output_type"] == "error"]
    assert len(errors) == 1, executed[source]
    lines = _error_text(errors[0])
    assert re.search(CASES[source], lines[0]), lines
    assert len(lines) <= 5, lines
    assert lines[-1] == FULL_TRACEBACK_HINT
    assert not any("vitwidgets/" in line for line in lines), "no frames of vitwidgets internals"


def test_tb_verbose_after_a_user_error_shows_the_whole_traceback(executed):
    out = executed["%tb verbose"]
    text = ANSI.sub("", "".join(
        "\n".join(o.get("traceback", [])) + o.get("text", "") for o in out
    ))
    assert "vitwidgets/core/images.py" in text, "the frames inside vitwidgets are there"
    assert len(text.splitlines()) > 10


# -- in Python: still the builtin exceptions ------------------------------------------------------
def test_user_errors_are_caught_as_the_builtins_they_stand_for():
    assert issubclass(UserValueError, ValueError) and issubclass(UserTypeError, TypeError)
    assert issubclass(UserFileNotFoundError, FileNotFoundError)
    assert issubclass(vw.WeightsUnavailableError, RuntimeError)
    assert issubclass(vw.UnsupportedModelError, TypeError)
    for cls in (UserValueError, UserTypeError, UserFileNotFoundError,
                vw.WeightsUnavailableError, vw.UnsupportedModelError):
        assert issubclass(cls, UserError)
    with pytest.raises(ValueError, match="give the images to look at"):
        vw.explore(vw.load_model("zoo:dino"))


def test_the_name_shown_is_the_builtin_for_generic_user_errors_and_the_class_otherwise():
    assert error_name(UserValueError("x")) == "ValueError"
    assert error_name(UserTypeError("x")) == "TypeError"
    assert error_name(vw.WeightsUnavailableError("x")) == "WeightsUnavailableError"
    assert error_name(KeyError("x")) == "KeyError"


def test_outside_ipython_the_render_is_the_message_and_the_hint():
    assert UserValueError("bad size")._render_traceback_() == [
        "ValueError: bad size", FULL_TRACEBACK_HINT]


def test_a_request_handler_error_still_becomes_an_error_reply_named_as_the_builtin(tmp_path):
    s = Session(toy_trace(), identity=IDENTITY)
    a = HeadAnnotator(s, path=tmp_path / "h.json")
    a.send = lambda content, buffers=None: sent.append(content)
    sent: list[dict] = []
    a._on_frontend_msg(a, {"kind": "request", "id": "r1", "method": "set",
                           "params": {"layer": 0, "head": 99, "tag": "local"}}, [])
    assert sent == [{"kind": "reply", "id": "r1", "ok": False,
                     "error": "ValueError: no head (0, 99): the model has layers 0..2 and "
                              "heads 0..2"}]
    with pytest.raises(traitlets.TraitError, match=r"head 7 out of range 0\.\.2"):
        a.head = 7
