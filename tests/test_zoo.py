"""The mini zoo: bundled models load offline, reproduce their recorded k-NN accuracy, have
learned something real; the training CLI runs and resumes for every method."""

from __future__ import annotations

import math

import pytest
import torch

import vitwidgets as vw
from vitwidgets.zoo import ZOO_NAMES, load_zoo_model, weights_path
from vitwidgets.zoo.evaluate import knn_check
from vitwidgets.zoo.train import main as train_main


@pytest.fixture(scope="module", params=ZOO_NAMES)
def zoo(request):
    key = request.param
    assert weights_path(key).is_file(), f"zoo weights for {key} are not bundled"
    return key, vw.load_model(f"zoo:{key}", device="cpu")


def test_zoo_model_loads_offline_with_its_geometry_and_record(zoo):
    key, m = zoo
    assert (m.patch_size, m.num_layers, m.num_heads, m.embed_dim) == (8, 6, 4, 128)
    assert m.grid_for(*m.input_size) == (8, 8) and m.prefix_names == ("cls",)
    meta = m.metadata
    assert meta["method"] == key
    assert meta["dataset"]["name"] == "ShapeWorld" and meta["training"]["command"]
    assert len(meta["metrics"]["knn_top1_per_layer"]) == 6
    assert weights_path(key).stat().st_size <= 5 * 2**20
    tr = m.trace(vw.data.ShapeWorld(2, split="test").images())
    assert tr.attn.shape == (6, 2, 4, 65, 65)


def test_zoo_model_reproduces_its_recorded_knn_accuracy(zoo):
    key, m = zoo
    recorded = m.metadata["metrics"]["knn_check_per_layer"]
    measured = knn_check(m.model)
    assert measured == pytest.approx(recorded, abs=0.02)


def test_zoo_models_learned_the_shape_class_beyond_random_initialisation(zoo):
    """Each model's best-layer CLS k-NN top-1 on the shape class (recorded on held-out splits)
    beats the same architecture at random initialisation by more than 0.05 and beats chance;
    the model card reports it with colour and texture."""
    key, m = zoo
    met, base = m.metadata["metrics"], m.metadata["random_init"]
    gain = met["knn_best_top1"] - base["knn_best_top1"]
    assert gain > 0.05, (key, met["knn_best_top1"], base["knn_best_top1"])
    assert met["knn_best_top1"] > met["chance_top1"] + 0.05


def test_model_card_is_generated_from_the_bundled_weights_records():
    """MODEL_CARD.md must be what `python -m vitwidgets.zoo.evaluate --card` writes from the
    measurements stored in the shipped weights, so no number in it is stale or typed in."""
    from importlib import resources

    from vitwidgets.zoo.card import model_card

    shipped = (resources.files("vitwidgets.zoo") / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert shipped == model_card(), "regenerate: python -m vitwidgets.zoo.evaluate --card"


def test_unknown_zoo_key_lists_the_zoo():
    with pytest.raises(ValueError, match="supervised, dino, mae"):
        load_zoo_model("clip")
    with pytest.raises(ValueError, match="supervised, dino, mae"):
        vw.load_model("zoo:clip")


@pytest.mark.parametrize("method", ZOO_NAMES)
def test_training_cli_runs_a_few_steps_and_resumes(method, tmp_path):
    common = ["--method", method, "--out", str(tmp_path), "--train-size", "64",
              "--batch-size", "8", "--threads", "1", "--quiet", "--save-every", "2"]
    train_main([*common, "--steps", "2"])
    first = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert first["step"] == 2
    train_main([*common, "--steps", "3", "--resume"])
    second = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert second["step"] == 3
    encoder = torch.load(tmp_path / "encoder.pt", weights_only=True)
    assert encoder["method"] == method and "blocks.5.attn.qkv.weight" in encoder["encoder"]


def test_dino_views_with_restyle_and_hue_jitter_train_a_step(tmp_path):
    train_main(["--method", "dino", "--out", str(tmp_path), "--train-size", "32",
                "--batch-size", "8", "--threads", "1", "--quiet", "--steps", "1",
                "--restyle", "0.5", "--hue-jitter", "--out-dim", "64", "--koleo", "0.1"])
    encoder = torch.load(tmp_path / "encoder.pt", weights_only=True)
    assert encoder["args"]["restyle"] == 0.5 and encoder["args"]["hue_jitter"]
    assert "koleo" in encoder["history"][0]


@pytest.mark.parametrize("freeze_last", [0, 2])
def test_dino_freeze_last_keeps_the_prototypes_fixed_for_those_steps(tmp_path, freeze_last):
    from vitwidgets.zoo.recipes import build

    train_main(["--method", "dino", "--out", str(tmp_path), "--train-size", "32",
                "--batch-size", "8", "--threads", "1", "--quiet", "--steps", "2",
                "--out-dim", "64", "--bn-head", "--freeze-last", str(freeze_last)])
    trained = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["task"]
    torch.manual_seed(0)  # the recipe's default seed: the same initial weights
    initial = build("dino", 12, out_dim=64, bn_head=True).state_dict()
    prototypes = "head.last.parametrizations.weight.original1"
    assert not torch.equal(trained["encoder.blocks.0.attn.qkv.weight"],
                           initial["encoder.blocks.0.attn.qkv.weight"])
    assert "head.mlp.1.running_mean" in trained  # the batch-norm head
    assert torch.equal(trained[prototypes], initial[prototypes]) == (freeze_last == 2)


def test_koleo_is_minus_log_nearest_neighbour_distance():
    from vitwidgets.zoo.recipes import koleo_loss

    # four points at 90 degrees on a circle (unnormalised on purpose): nearest distance sqrt 2
    square = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [0.0, -5.0]])
    assert koleo_loss(square).item() == pytest.approx(-0.5 * math.log(2.0), abs=1e-6)
    # two points that coincide are penalised far more than spread ones
    collapsed = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    assert koleo_loss(collapsed).item() > 4.0


def test_dino_restyle_warmup_grows_the_restyled_share_from_zero():
    from vitwidgets.zoo.recipes import build

    torch.manual_seed(0)
    task = build("dino", 12, out_dim=16, restyle=1.0, restyle_warmup=100)
    calls = []
    x = torch.randn(4, 3, 64, 64)

    def restyle():
        calls.append(1)
        return -x

    for step in (0, 50):
        task.loss(x, None, torch.Generator().manual_seed(0), step, 200, restyle=restyle)
    assert len(calls) == 1  # no restyled view at step 0, some at step 50


def test_hue_saturation_jitter_keeps_grey_and_is_the_identity_at_zero_strength():
    from vitwidgets.zoo.augment import hue_saturation_jitter

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 5, 5)
    same = hue_saturation_jitter(x, gen, hue=0.0, saturation=0.0, grey_p=0.0)
    assert torch.allclose(same, x, atol=1e-6)
    grey = torch.full((6, 3, 5, 5), 0.3)  # grey pixels have no hue: any rotation keeps them
    assert torch.allclose(hue_saturation_jitter(grey, gen, hue=0.5), grey, atol=1e-6)
    # a hue rotation keeps brightness (channel mean) and chroma (distance from the grey axis)
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(2, 3, 1, 1)
    rotated = hue_saturation_jitter(red, torch.Generator().manual_seed(1), hue=0.5,
                                    saturation=0.0, grey_p=0.0)
    mean = red.mean(1, keepdim=True)
    assert torch.allclose(rotated.mean(1, keepdim=True), mean, atol=1e-6)  # brightness kept
    assert torch.allclose((rotated - mean).norm(dim=1), (red - mean).norm(dim=1), atol=1e-5)
    all_grey = hue_saturation_jitter(x, gen, grey_p=1.0)
    assert torch.allclose(all_grey, all_grey.mean(1, keepdim=True).expand_as(x), atol=1e-6)


def test_sinkhorn_knopp_gives_identical_samples_uniform_targets_and_balances_prototypes():
    from vitwidgets.zoo.recipes import sinkhorn_knopp

    # every sample scores the prototypes alike: balancing leaves each sample uniform (1/K each),
    # where a softmax would send all of them to prototype 2
    same = torch.tensor([[0.1, 0.5, 3.0, 0.2]]).repeat(6, 1)
    assert torch.allclose(sinkhorn_knopp(same), torch.full((6, 4), 0.25), atol=1e-6)
    # distinct preferences: each sample keeps its own prototype, every prototype used once
    distinct = 10.0 * torch.eye(4)[[2, 0, 3, 1]]
    q = sinkhorn_knopp(distinct)
    assert q.argmax(1).tolist() == [2, 0, 3, 1]
    assert torch.allclose(q.sum(1), torch.ones(4), atol=1e-6)
    assert torch.allclose(q.sum(0), torch.ones(4), atol=1e-3)


@pytest.mark.parametrize(("local_style", "renders"), [("shared", 1), ("own", 2)])
def test_dino_local_style_own_renders_the_local_crops_scene_in_a_third_style(local_style,
                                                                              renders):
    from vitwidgets.zoo.recipes import build

    torch.manual_seed(0)
    task = build("dino", 12, out_dim=16, restyle=1.0, local_style=local_style)
    calls = []
    x = torch.randn(4, 3, 64, 64)

    def restyle():
        calls.append(1)
        return -x

    task.loss(x, None, torch.Generator().manual_seed(0), 0, 10, restyle=restyle)
    assert len(calls) == renders


def test_dino_with_sinkhorn_centring_keeps_the_teacher_and_records_the_recipe(tmp_path):
    from vitwidgets.zoo.card import method_text

    train_main(["--method", "dino", "--out", str(tmp_path), "--train-size", "32",
                "--batch-size", "8", "--threads", "1", "--quiet", "--steps", "2",
                "--out-dim", "64", "--centring", "sinkhorn", "--restyle", "1.0",
                "--local-style", "own", "--keep", "teacher"])
    encoder = torch.load(tmp_path / "encoder.pt", weights_only=True)
    task = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["task"]
    assert all(torch.equal(v, task[f"teacher.{k}"]) for k, v in encoder["encoder"].items())
    assert not torch.equal(task["teacher.blocks.0.attn.qkv.weight"],
                           task["encoder.blocks.0.attn.qkv.weight"])
    text = method_text("dino", {k: encoder["args"][k] for k in
                                ("centring", "local_style", "keep", "restyle")})
    assert "Sinkhorn-Knopp" in text and "third style" in text and "is the teacher" in text


def test_dino_refuses_unknown_centring_local_style_and_koleo_features():
    from vitwidgets.zoo.recipes import build

    with pytest.raises(ValueError, match="centring must be 'mean' or 'sinkhorn'"):
        build("dino", 12, centring="median")
    with pytest.raises(ValueError, match="local_style must be 'shared' or 'own'"):
        build("dino", 12, local_style="mine")
    with pytest.raises(ValueError, match="koleo_on must be 'cls' or 'bottleneck'"):
        build("dino", 12, koleo_on="patches")


@pytest.mark.parametrize("koleo_on", ["cls", "bottleneck"])
def test_dino_koleo_spreads_the_chosen_features(koleo_on):
    """The recorded KoLeo term is koleo_loss of the student's global-view CLS tokens, or of the
    head's normalised bottleneck, whichever was asked for (recomputed here from the same
    views)."""
    from vitwidgets.zoo.recipes import build, koleo_loss

    torch.manual_seed(0)
    task = build("dino", 12, out_dim=16, koleo=0.1, koleo_on=koleo_on)
    seen = []
    task.encoder.register_forward_hook(lambda _m, _i, out: seen.append(out.detach()))
    x = torch.randn(6, 3, 64, 64)
    _, info = task.loss(x, None, torch.Generator().manual_seed(0), 0, 10)
    cls = seen[0]  # the first encoder call sees the two global views, [2B, D]
    feats = cls if koleo_on == "cls" else task.head.embed(cls)
    expected = sum(koleo_loss(c) for c in feats.chunk(2)).item() / 2
    assert info["koleo"] == pytest.approx(expected, rel=1e-5)


def test_dino_defaults_are_the_bundled_recipe_and_other_methods_get_the_plain_values():
    from vitwidgets.zoo.recipes import PLAIN_DINO
    from vitwidgets.zoo.train import parse_args

    dino = parse_args(["--method", "dino"])
    assert (dino.restyle, dino.local_style, dino.koleo, dino.koleo_on, dino.teacher_temp,
            dino.freeze_last, dino.keep, dino.steps, dino.batch_size) == (
        1.0, "own", 0.1, "bottleneck", 0.04, 300, "teacher", 1800, 64)
    plain = parse_args(["--method", "dino", "--restyle", "0", "--koleo", "0", "--keep",
                        "student"])
    assert (plain.restyle, plain.koleo, plain.keep) == (0.0, 0.0, "student")
    mae = parse_args(["--method", "mae"])
    assert all(getattr(mae, k) == v for k, v in PLAIN_DINO.items())
