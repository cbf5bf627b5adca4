"""vw.compare and link_models: models side by side, linked by image, place and relative depth."""

from __future__ import annotations

import pytest
import torch

import vitwidgets as vw
from vitwidgets.core.indexing import block_at_relative_depth, token_across_grids
from vitwidgets.data import ShapeWorld
from vitwidgets.zoo import create_vit


# ------------------------------------------------------------------------ the index mappings
def test_block_at_relative_depth_meets_block_5_of_12_with_block_11_of_24_and_back():
    assert block_at_relative_depth(5, 12, 24) == 11  # the 6th of 12 and the 12th of 24
    assert [block_at_relative_depth(b, 12, 24) for b in (0, 11)] == [1, 23]
    assert [block_at_relative_depth(b, 24, 12) for b in (0, 1, 11, 23)] == [0, 0, 5, 11]
    assert [block_at_relative_depth(b, 6, 6) for b in range(6)] == list(range(6))
    assert block_at_relative_depth(2, 3, 6) == 5, "the last block meets the last block"


def test_block_at_relative_depth_refuses_a_block_the_model_does_not_have():
    with pytest.raises(ValueError, match="out of range"):
        block_at_relative_depth(12, 12, 24)


def test_token_across_grids_takes_the_patch_under_the_same_place():
    # patch (row 2, col 5) of an 8 x 8 grid has its centre at (2.5, 5.5) / 8 of the image:
    # in a 16 x 16 grid that is patch (5, 11); in a 4 x 4 grid patch (1, 2)
    token = 1 + 2 * 8 + 5
    assert token_across_grids(token, (8, 8), 1, (16, 16), 1) == 1 + 5 * 16 + 11
    assert token_across_grids(token, (8, 8), 1, (4, 4), 5) == 5 + 1 * 4 + 2
    assert token_across_grids(1 + 5 * 16 + 11, (16, 16), 1, (8, 8), 1) == token


def test_token_across_grids_keeps_prefix_tokens_it_can_and_none_as_none():
    assert token_across_grids(0, (8, 8), 1, (16, 16), 5) == 0, "CLS to CLS"
    assert token_across_grids(3, (8, 8), 5, (16, 16), 1) == -1, "a register the other lacks"
    assert token_across_grids(-1, (8, 8), 1, (4, 4), 1) == -1
    with pytest.raises(ValueError, match=r"token 65 out of range 0\.\.64"):
        token_across_grids(65, (8, 8), 1, (4, 4), 1)


# ------------------------------------------------------------------------------ the widget
@pytest.fixture(scope="module")
def images():
    return list(ShapeWorld(4, split="test").images())  # 64 x 64 px


@pytest.fixture(scope="module")
def shallow():
    """A 3-block ViT on a 4 x 4 grid of 16-px patches (the zoo: 6 blocks, 8 x 8 of 8 px)."""
    torch.manual_seed(0)
    return vw.load_model(create_vit(depth=3, patch_size=16).eval())


@pytest.fixture(scope="module")
def comparison(images, shallow):
    return vw.compare({"mae": "zoo:mae", "shallow": shallow}, images)


def test_compare_shows_each_model_under_its_name_with_the_cka_map_across_them(comparison):
    mae, shallow = comparison.explorers
    assert comparison.names == ["mae", "shallow"]
    assert (mae.num_layers, shallow.num_layers) == (6, 3)
    rmap = comparison.representation_map
    assert rmap.matrix.shape == (6, 3), "rows: the first model's blocks, columns: the second's"
    assert comparison.children[-1] is rmap


def test_moving_either_explorer_moves_the_other_to_the_same_relative_depth(comparison):
    mae, shallow = comparison.explorers
    mae.layer = 5
    assert shallow.layer == 2
    shallow.layer = 0
    assert mae.layer == 1, "block 0 of 3 is a third of the way: block 1 of 6"
    assert (comparison.representation_map.layer, comparison.representation_map.layer_b) == (1, 0)


def test_a_cka_cell_sends_each_model_to_its_own_block_even_off_the_diagonal(comparison):
    mae, shallow = comparison.explorers
    rmap = comparison.representation_map
    with rmap.hold_trait_notifications():  # a click sets both in one sync
        rmap.layer, rmap.layer_b = 4, 0
    assert (mae.layer, shallow.layer) == (4, 0)


def test_the_image_and_the_pinned_patch_follow_by_place(comparison):
    mae, shallow = comparison.explorers
    shallow.image_index = 3
    assert mae.image_index == 3
    mae.query = 1 + 2 * 8 + 5  # patch (2, 5) of 8 x 8
    assert shallow.query == 1 + 1 * 4 + 2  # the 4 x 4 patch under its centre
    mae.query = -1
    assert shallow.query == -1


def test_compare_needs_two_models_a_list_and_known_keywords(images):
    with pytest.raises(ValueError, match="at least two models"):
        vw.compare(["zoo:mae"], images)
    with pytest.raises(TypeError, match="list of models"):
        vw.compare("zoo:mae", images)
    with pytest.raises(TypeError, match="colourmap"):
        vw.compare(["zoo:mae", "zoo:dino"], images, colourmap="gray")


def test_link_models_links_feature_explorers_of_two_models(images, shallow):
    a = vw.FeatureExplorer("zoo:mae", images)
    b = vw.FeatureExplorer(shallow, images)
    links = vw.link_models(a, b)
    a.layer = 3
    assert b.layer == block_at_relative_depth(3, 6, 3) == 1
    for link in links:
        link.unlink()
    a.layer = 5
    assert b.layer == 1, "unlinked"
