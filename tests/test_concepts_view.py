"""ConceptMap: its labels are the core's Network-Dissection labels of the same batches, a unit's
top images and maps are those a direct computation over the whole dataset gives, the wire
carries them, labelling runs in the background with progress, errors show in the widget, and a
click's ``layer`` links to other views."""

from __future__ import annotations

import asyncio
import io
import time

import numpy as np
import pytest
import torch
import traitlets
from factories import IDENTITY, in_own_loop, toy_trace
from PIL import Image

import vitwidgets as vw
from vitwidgets.core.dissection import ConceptBatches, concept_map
from vitwidgets.core.metrics.concepts import (
    UnitPeakAccumulator,
    UnitTopMapsAccumulator,
    top_images,
    unit_maps,
)
from vitwidgets.core.session import Session
from vitwidgets.core.streaming import dataset_label_units
from vitwidgets.data import CONCEPTS, ShapeWorld
from vitwidgets.widgets import AttentionExplorer, ConceptMap

N_IMAGES, BATCH, TOP_K = 12, 6, 3


@pytest.fixture(scope="module")
def model():
    return vw.load_model("zoo:supervised")


@pytest.fixture(scope="module")
def dataset():
    return ShapeWorld(N_IMAGES, split="test")


@pytest.fixture(scope="module")
def view(model, dataset):
    return ConceptMap(model, dataset, top_k=TOP_K, batch_size=BATCH, background=False)


@pytest.fixture(scope="module")
def direct(model, dataset):
    """Every block's residual units over the whole dataset in one forward pass: ``[L, N, G, D]``
    and the model input ``[N, H, W, 3]``."""
    images, _, _ = next(iter(ConceptBatches(dataset, N_IMAGES)))
    with torch.inference_mode():
        trace = model.trace(images, tokens=True, attention=False)
    return torch.stack([trace.patch_tokens(b) for b in range(model.num_layers)]).float(), \
        trace.images_uint8(), tuple(trace.grid)


# ---------------------------------------------------------------- core: known answers
def test_top_images_are_each_units_highest_peaks_first_ties_to_the_earlier_image():
    peaks = torch.tensor([[1.0, 5.0], [3.0, 5.0], [2.0, 0.0], [3.0, 1.0]])  # [N=4, D=2]
    assert top_images(peaks, 2).tolist() == [[1, 3], [0, 1]]
    assert top_images(peaks, 9).shape == (2, 4)
    with pytest.raises(ValueError, match="k must be positive"):
        top_images(peaks, 0)


def test_unit_maps_lay_a_units_patch_activations_out_row_major():
    acts = torch.arange(2 * 6 * 3, dtype=torch.float32).reshape(2, 6, 3)  # [B, G=2x3, D]
    m = unit_maps(acts, (2, 3), 1)
    assert m.shape == (2, 2, 3)
    assert m[1, 1, 0].item() == acts[1, 3, 1].item() == 28.0
    with pytest.raises(ValueError, match="unit 3 out of range 0..2"):
        unit_maps(acts, (2, 3), 3)


def test_top_maps_are_caught_in_stream_order_across_batches():
    acts = torch.randn(5, 4, 2)  # 5 images in batches of 2, 2, 1; grid 2x2; 2 units

    class Tr:  # the little of a Trace the accumulators read; image i's pixels are all i
        def __init__(self, start):
            self.a, self.start = acts[start : start + 2], start
            self.batch_size = self.a.shape[0]

        def patch_tokens(self, b):
            return self.a

        def images_uint8(self):
            return torch.arange(self.start, self.start + self.batch_size, dtype=torch.uint8
                                ).view(-1, 1, 1, 1).expand(-1, 4, 4, 3)

    peaks = UnitPeakAccumulator([0])
    for s in (0, 2, 4):
        peaks.update(Tr(s))
    assert torch.equal(peaks.result()[0], acts.amax(1))
    top = top_images(peaks.result()[0], 2)[None]
    acc = UnitTopMapsAccumulator([0], top, (2, 2))
    for s in (0, 2, 4):
        acc.update(Tr(s))
    maps, images = acc.result()
    for d in range(2):
        for j, i in enumerate(top[0, d].tolist()):
            assert torch.equal(maps[0, d, j], acts[i, :, d].reshape(2, 2))
    assert sorted(images) == sorted(set(top.flatten().tolist()))
    assert all(torch.all(img == i) for i, img in images.items())


def test_the_labels_are_the_cores_dataset_label_units_of_the_same_batches(model, dataset, view):
    want = dataset_label_units(model, ConceptBatches(dataset, BATCH), list(CONCEPTS),
                               progress=False, num_images=N_IMAGES)
    got = view.labels
    assert torch.equal(got.iou, want.iou) and torch.equal(got.best_concept, want.best_concept)
    assert got.summary() == want.summary()


def test_each_units_top_images_and_maps_are_a_direct_computation_over_the_dataset(view, direct):
    acts, rgb, grid = direct  # [L, N, G, D]
    r = view.result
    peaks = acts.amax(2)  # [L, N, D]
    torch.testing.assert_close(r.peaks, peaks, atol=1e-4, rtol=1e-4)
    for li in (0, 5):
        for unit in (0, 7, 127):
            order = torch.argsort(-peaks[li, :, unit], stable=True)[:TOP_K]
            assert r.top[li, unit].tolist() == order.tolist()
            want = acts[li][order][:, :, unit].reshape(TOP_K, *grid)
            torch.testing.assert_close(r.maps[li, unit], want, atol=1e-4, rtol=1e-4)
            for i in order.tolist():
                assert torch.equal(r.images[i], rgb[i])


def test_the_images_of_a_list_of_tuple_batches_are_counted_others_need_num_images(dataset):
    from vitwidgets.core.dissection import _num_images

    batches = list(ConceptBatches(dataset, 5))
    assert _num_images(batches, None) == N_IMAGES
    assert _num_images(batches, 7) == 7
    dicts = [{"images": b[0], "masks": b[2]} for b in batches]
    with pytest.raises(ValueError, match="give num_images=.*thresholds need it up front"):
        _num_images(dicts, None)


def test_progress_counts_the_batches_of_both_passes(model, dataset):
    seen = []
    concept_map(model, ConceptBatches(dataset, BATCH), list(CONCEPTS), layers=[5], top_k=1,
                batch_size=BATCH, on_batch=lambda *a: seen.append(a[:2]))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


# ---------------------------------------------------------------- the widget
def test_the_wire_carries_the_cores_summary_and_every_units_label(view):
    lab, wire = view.labels, view._labels
    assert wire["blocks"] == list(range(6)) and view.done and view.status == ""
    assert wire["concepts"][0] == list(CONCEPTS[0])
    assert view.categories == ["colour", "texture", "shape", "part", "class"]
    for li, s in enumerate(wire["summary"]):
        assert {k: v for k, v in s.items() if k not in ("best", "iou")} == lab.summary()[li]
        assert s["best"] == lab.best_concept[li].tolist()
        assert s["iou"] == lab.best_iou[li].double().tolist()
    assert view.layer == 5 and view.unit == -1


def test_a_units_maps_reply_carries_the_cores_maps_and_the_model_input(view):
    r = view.result
    li, unit = 5, int(r.labels.best_iou[5].argmax())
    reply, buffers = view.handle_request(
        {"kind": "request", "id": "1", "method": "unit_maps", "params": {"layer": 5, "unit": unit}})
    assert reply["ok"], reply
    res = reply["result"]
    assert res["images"] == r.top[li, unit].tolist()
    assert res["concept"] == int(r.labels.best_concept[li, unit]) >= 0
    assert res["top_concepts"][0] == [res["concept"], float(r.labels.best_iou[li, unit])]
    assert res["threshold"] == float(r.thresholds[li, unit])
    maps = np.frombuffer(buffers[0], np.float16).reshape(res["arrays"][0]["shape"])
    np.testing.assert_allclose(maps, r.maps[li, unit].numpy(), rtol=1e-3, atol=1e-3)
    assert res["peaks"] == pytest.approx(r.maps[li, unit].flatten(1).amax(1).tolist())
    for png, i in zip(buffers[1:], res["images"], strict=True):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), r.images[i].numpy())


def test_bad_requests_and_selections_say_what_was_expected(model, dataset, view):
    ask = lambda **p: view.handle_request(  # noqa: E731
        {"kind": "request", "id": "2", "method": "unit_maps", "params": p})[0]
    assert "unit 128 out of range 0..127" in ask(layer=5, unit=128)["error"]
    with pytest.raises(traitlets.TraitError, match="out of range"):
        view.layer = 6
    with pytest.raises(traitlets.TraitError, match="unit 200 out of range -1..127"):
        view.unit = 200
    with pytest.raises(traitlets.TraitError, match="category must be one of"):
        view.category = "colours"
    part = ConceptMap(model, dataset, layers=[2], top_k=1, batch_size=BATCH, background=False)
    assert part.layer == 2, "the last labelled block is shown first"
    reply = part.handle_request({"kind": "request", "id": "3", "method": "unit_maps",
                                 "params": {"layer": 4, "unit": 0}})[0]
    assert "block 4 was not labelled (labelled: [2])" in reply["error"]
    batches = list(ConceptBatches(dataset, BATCH))
    with pytest.raises(ValueError, match=r"give concepts=\[\(name, category\)"):
        ConceptMap(model, batches)
    with pytest.raises(ValueError, match="top_k must be a positive whole number"):
        ConceptMap(model, batches, list(CONCEPTS), top_k=0)
    with pytest.raises(ValueError, match="background=True needs a running event loop"):
        ConceptMap(model, batches, list(CONCEPTS), background=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'units'"):
        ConceptMap(model, batches, list(CONCEPTS), units=3)


class SlowBatches:
    """Batches that take ``delay`` seconds each to load (a slow disk)."""

    def __init__(self, batches, delay):
        self.batches, self.delay = batches, delay

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for b in self.batches:
            time.sleep(self.delay)
            yield b


def test_in_a_running_loop_labelling_runs_in_the_background_and_errors_show(model, dataset):
    seen: list[str] = []
    no_masks = [(b[0],) for b in ConceptBatches(dataset, BATCH)]

    async def run(data):
        cm = ConceptMap(model, data, list(CONCEPTS), layers=[5], top_k=1, batch_size=BATCH,
                        num_images=N_IMAGES)
        cm.observe(lambda c: seen.append(c["new"]), "status")
        assert cm.status == "computing unit labels: 0 batches…" and cm.labels is None
        for _ in range(300):
            if cm.done or cm.error:
                break
            await asyncio.sleep(0.05)
        return cm

    cm = in_own_loop(lambda: run(SlowBatches(ConceptBatches(dataset, BATCH), 0.3)))
    assert cm.error == "" and cm.done and cm.labels is not None
    assert any(s.endswith("of 4 batches…") and not s.startswith("computing unit labels: 4")
               for s in seen) and seen[-1] == ""
    bad = in_own_loop(lambda: run(no_masks))
    assert bad.error == "ValueError: label_units needs concept masks in every batch"
    assert bad.status == "" and not bad.done


def test_a_click_on_a_block_sets_layer_which_links_to_other_views(view):
    ex = AttentionExplorer(Session(toy_trace(), identity=IDENTITY))  # 3 blocks
    view.layer = 2
    vw.link(view, ex)
    view.layer = 1  # what a click on block 1's bar sets
    assert ex.layer == 1
    ex.layer = 0
    assert view.layer == 0
