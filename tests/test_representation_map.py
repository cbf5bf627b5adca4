"""RepresentationMap: its numbers are the core's minibatch CKA and token similarity of the same
batches, the wire carries them, the matrix fills in from the background with progress, errors
show in the widget, and clicks link to other views through ``layer`` and ``layer_b``."""

from __future__ import annotations

import asyncio
import os
import time

import numpy as np
import pytest
import torch
import traitlets
from factories import IDENTITY, in_own_loop, tiny_vit, toy_trace, without_loop

import vitwidgets as vw
from vitwidgets.core import streaming as S
from vitwidgets.core.metrics.representation import token_similarity
from vitwidgets.core.profiles import image_batches, representation_map
from vitwidgets.core.session import Session
from vitwidgets.widgets import AttentionExplorer, RepresentationMap
from vitwidgets.widgets._background import batches_text

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def model():
    return tiny_vit(3, 0)


@pytest.fixture(scope="module")
def model_b():
    return tiny_vit(4, 1)


@pytest.fixture(scope="module")
def images():
    return torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def wire(widget_bytes: bytes, shape) -> np.ndarray:
    return np.frombuffer(widget_bytes, dtype="<f4").reshape(shape)


def test_the_matrix_is_the_cores_minibatch_cka_of_the_same_batches(model, images):
    rm = RepresentationMap(model, images, batch_size=6, background=False)
    expected = S.dataset_cka(model, images, batch_size=6, progress=False)
    assert rm.matrix.dtype == torch.float64 and rm.matrix.shape == (3, 3)
    assert torch.equal(rm.matrix, expected)
    assert torch.allclose(torch.diagonal(rm.matrix), torch.ones(3, dtype=torch.float64))
    np.testing.assert_array_equal(wire(rm._cka, (3, 3)), expected.float().numpy())
    assert (rm.done, rm.status, rm.error, rm.num_images) == (True, "", "", 12)


def test_the_companion_curve_is_the_cores_token_similarity_of_every_image(model, images):
    rm = RepresentationMap(model, images, batch_size=6, background=False)
    expected = token_similarity(model.trace(images)).double().mean(1)
    assert rm.similarity.shape == (4,)  # embedding + 3 block outputs
    torch.testing.assert_close(rm.similarity, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(wire(rm._similarity, (4,)), expected.numpy(), rtol=1e-6)
    assert rm.similarity_b is None and rm._similarity_b == b""


def test_across_two_models_rows_are_model_a_and_columns_model_b(model, model_b, images):
    rm = RepresentationMap(model, images, model_b, batch_size=6, mode="mean_patch",
                           background=False)
    expected = S.dataset_cka(model, images, model_b, mode="mean_patch", batch_size=6,
                             progress=False)
    assert (rm.cross, rm.num_layers, rm.num_layers_b) == (True, 3, 4)
    assert torch.equal(rm.matrix, expected)
    np.testing.assert_array_equal(wire(rm._cka, (3, 4)), expected.float().numpy())
    torch.testing.assert_close(rm.similarity_b, token_similarity(model_b.trace(images))
                               .double().mean(1), rtol=1e-6, atol=1e-7)


def test_a_list_of_single_images_is_cut_into_batches_of_batch_size(model, images):
    batches = image_batches(list(images), 5)
    assert [len(b) for b in batches] == [5, 5, 2]
    assert image_batches(images, 5) is images, "tensors go to the streaming driver as they are"
    with pytest.warns(UserWarning, match="skipped 2 images"):
        expected = S.dataset_cka(model, batches, progress=False)
    result = representation_map(model, list(images), batch_size=5)
    assert torch.equal(result.cka, expected) and result.skipped == 2


class SlowBatches:
    """Three batches of 4 images, each taking ``delay`` seconds to load."""

    def __init__(self, images, delay):
        self.images, self.delay = images, delay

    def __len__(self):
        return 3

    def __iter__(self):
        for s in range(0, 12, 4):
            time.sleep(self.delay)
            yield self.images[s : s + 4]


def test_in_a_running_loop_the_cells_fill_in_from_the_background_with_progress(model, images):
    seen: list[str] = []
    partial: list[bool] = []

    async def run():
        rm = RepresentationMap(model, SlowBatches(images, 0.35))
        rm.observe(lambda c: seen.append(c["new"]), "status")
        rm.observe(lambda c: partial.append(rm.done), "_cka")
        assert rm.status == "computing CKA: 0 batches…" and rm.matrix is None
        for _ in range(100):
            if rm.done or rm.error:
                break
            await asyncio.sleep(0.1)
        return rm

    rm = in_own_loop(run)
    assert rm.error == "" and rm.done
    assert "computing CKA: 1 of 3 batches…" in seen and seen[-1] == ""
    assert False in partial, "partial matrices arrived before the end"
    assert torch.equal(rm.matrix, S.dataset_cka(model, list(SlowBatches(images, 0)),
                                                progress=False))


def test_an_error_while_streaming_shows_in_the_widget_and_raises_in_the_foreground(model, images):
    small = [images[:3], images[3:6]]
    with pytest.raises(ValueError, match="CKA needs batches of at least 4 images"):
        RepresentationMap(model, small, background=False)

    async def run():
        rm = RepresentationMap(model, small)
        for _ in range(100):
            if rm.error:
                break
            await asyncio.sleep(0.05)
        return rm

    rm = in_own_loop(run)
    assert rm.error.startswith("ValueError: CKA needs batches of at least 4 images")
    assert rm.status == "" and not rm.done and rm.matrix is None


def test_bad_arguments_say_what_was_expected(model, images):
    with pytest.raises(TypeError, match="unexpected keyword argument 'layerb'.*'layer_b'"):
        RepresentationMap(model, images, layerb=1)
    with pytest.raises(ValueError, match="mode must be one of"):
        RepresentationMap(model, images, mode="mean")
    with pytest.raises(ValueError, match="batch_size must be a positive whole number"):
        RepresentationMap(model, images, batch_size=0, background=False)
    rm = RepresentationMap(model, images, batch_size=6, background=False)
    with pytest.raises(traitlets.TraitError, match="out of range"):
        rm.layer_b = 3
    with pytest.raises(RuntimeError, match="needs the widget drawn in a browser"):
        without_loop(lambda: rm.save_png("cka.png"))


def test_a_click_links_the_row_to_one_view_and_the_column_to_another(model, images):
    rm = RepresentationMap(model, images, model, batch_size=6, background=False)
    ex_a = AttentionExplorer(Session(toy_trace(), identity=IDENTITY))
    ex_b = AttentionExplorer(Session(toy_trace(), identity=IDENTITY))
    vw.link(rm, ex_a)
    vw.link(rm, ex_b, traits={"layer_b": "layer"})
    rm.layer, rm.layer_b = 1, 2  # what a click on cell (1, 2) sets
    assert (ex_a.layer, ex_b.layer) == (1, 2)
    ex_b.layer = 0
    assert (rm.layer, rm.layer_b) == (1, 0)
    with pytest.raises(ValueError, match="cannot link 'layer_c' to 'layer'"):
        vw.link(rm, ex_b, traits={"layer_c": "layer"})
    with pytest.raises(ValueError, match="has no trait 'layer_b'"):
        vw.link(ex_a, rm, traits={"layer_b": "layer"})


def test_progress_text_counts_batches():
    assert batches_text("CKA", 3, 8) == "computing CKA: 3 of 8 batches…"
    assert batches_text("CKA", 1, 1) == "computing CKA: 1 of 1 batch…"
    assert batches_text("depth profiles", 2, None) == "computing depth profiles: 2 batches…"


def test_background_true_needs_a_running_loop(model, images):
    with pytest.raises(ValueError, match="background=True needs a running event loop"):
        without_loop(lambda: RepresentationMap(model, images, background=True))


def test_computed_waits_for_the_views_numbers_and_raises_their_error(model, images):
    async def wait_for_views():
        rm = RepresentationMap(model, images, batch_size=4)
        assert rm.matrix is None, "a running loop: the map fills in from the background"
        same = await vw.computed(rm, timeout=60)
        assert same is rm and rm.done and rm.matrix is not None
        bad = RepresentationMap(model, [object()] * 4, batch_size=4)
        with pytest.raises(RuntimeError, match="RepresentationMap: "):
            await vw.computed(bad, timeout=60)
        with pytest.raises(TypeError, match="study views"):
            await vw.computed(rm, "not a view")

    in_own_loop(wait_for_views)
