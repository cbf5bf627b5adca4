"""Measure a zoo model with the project's own metrics, and export trained weights into the
package with that record.

    python -m vitwidgets.zoo.evaluate runs/dino/encoder.pt --export   # writes zoo/weights/dino...
    python -m vitwidgets.zoo.evaluate --zoo dino                      # re-measure a bundled one
    python -m vitwidgets.zoo.evaluate --card                          # rewrite MODEL_CARD.md

Measures, on held-out ShapeWorld splits (dataset seed fixed; the training split is never used):
k-NN top-1 per layer (Walmer et al. 2023; CLS of each block output, L2-normalised, weighted vote
exp(s/0.07), k=20; bank = ``val`` split, queries = ``test`` split), linear-probe accuracy per
layer (logistic regression), per-layer attention distance in pixels and NMI (Park et al. 2023;
mean over heads and images), and the same k-NN for the same architecture at random
initialisation (chance = 1/12). The model card is written by :mod:`vitwidgets.zoo.card`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from vitwidgets.core.metrics import knn_per_layer, linear_probe_per_layer
from vitwidgets.core.model import ViTModel
from vitwidgets.core.streaming import dataset_features, dataset_head_stats
from vitwidgets.data import COLOURS, TEXTURES, ShapeWorld
from vitwidgets.zoo import (
    ARCH,
    METADATA_KEY,
    ZOO_NAMES,
    create_vit,
    load_zoo_model,
    weights_path,
)
from vitwidgets.zoo.card import write_card
from vitwidgets.zoo.recipes import RECIPE_OPTIONS

#: sizes of the evaluation splits (the model card's numbers)
BANK, QUERIES, ATTN_IMAGES = 2000, 1000, 256
#: the small fixed split the tests re-measure (fast enough for the test suite)
CHECK_BANK, CHECK_QUERIES = 300, 200

ZOO_PREFIX = "zoo:"


def shapeworld_batches(n: int, split: str, seed: int = 0, batch_size: int = 100) -> list:
    """``[(uint8 images [b, 3, 64, 64], labels [b]), ...]`` of ShapeWorld ``split``."""
    ds = ShapeWorld(n, seed=seed, split=split, image_size=64)
    images = torch.from_numpy(ds.images()).permute(0, 3, 1, 2)
    labels = torch.from_numpy(ds.labels)
    return [(images[s : s + batch_size], labels[s : s + batch_size])
            for s in range(0, n, batch_size)]


def main_object_attributes(n: int, split: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Colour and texture indices ``[n]`` of the main object of ShapeWorld ``split``."""
    ds = ShapeWorld(n, seed=seed, split=split, image_size=64)
    colours, textures = list(COLOURS), list(TEXTURES)
    objs = [ds[i][1]["objects"][0] for i in range(n)]
    return {"colour": torch.tensor([colours.index(o["colour"]) for o in objs]),
            "texture": torch.tensor([textures.index(o["texture"]) for o in objs])}


def _cpu_model(model: Any) -> ViTModel:
    """``model`` (a timm ViT module, a :class:`ViTModel` or ``"zoo:<key>"``) as a ViTModel on
    the CPU."""
    if isinstance(model, str) and model.startswith(ZOO_PREFIX):
        module, meta = load_zoo_model(model[len(ZOO_PREFIX) :])
        return ViTModel(module, name=model, device="cpu", metadata=meta)
    if isinstance(model, ViTModel):
        if model.device == torch.device("cpu"):
            return model
        return ViTModel(model.model, name=model.name, device="cpu", metadata=model.metadata)
    return ViTModel(model, device="cpu")


def knn_check(model: Any, data_seed: int = 0) -> list[float]:
    """k-NN top-1 per layer on the small fixed split (bank ``val`` 300, queries ``test`` 200)."""
    vm = _cpu_model(model)
    fb, yb = dataset_features(vm, shapeworld_batches(CHECK_BANK, "val", data_seed), progress=False)
    fq, yq = dataset_features(vm, shapeworld_batches(CHECK_QUERIES, "test", data_seed),
                              progress=False)
    return [round(float(a), 4) for a in knn_per_layer(fb, yb, fq, yq).accuracy]


def _rounded(t: torch.Tensor) -> list:
    """``t`` as (nested) lists of floats rounded to 4 decimals."""
    return torch.round(t.double() * 1e4).div(1e4).tolist()


def evaluate(model: torch.nn.Module, data_seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """All measured numbers of one encoder (see the module docstring)."""
    vm = _cpu_model(model)
    bank = shapeworld_batches(BANK, "val", data_seed)
    queries = shapeworld_batches(QUERIES, "test", data_seed)
    fb, yb = dataset_features(vm, bank, progress=progress, desc="bank")
    fq, yq = dataset_features(vm, queries, progress=progress, desc="queries")
    knn = knn_per_layer(fb, yb, fq, yq)
    probe = linear_probe_per_layer(fb, yb, fq, yq)
    # what else the CLS features encode: the main object's colour and texture (k-NN, same splits)
    attr_b = main_object_attributes(BANK, "val", data_seed)
    attr_q = main_object_attributes(QUERIES, "test", data_seed)
    attributes = {
        f"knn_{name}_best_top1": round(float(knn_per_layer(fb, attr_b[name], fq,
                                                           attr_q[name]).accuracy.max()), 4)
        for name in ("colour", "texture")
    }
    stats = dataset_head_stats(vm, shapeworld_batches(ATTN_IMAGES, "test", data_seed),
                               progress=False)
    distance_px = stats.distance_pixels
    return {
        "knn_top1_per_layer": _rounded(knn.accuracy),
        "knn_best_layer": int(knn.best_layer),
        "knn_best_top1": round(float(knn.accuracy.max()), 4),
        "linear_probe_per_layer": _rounded(probe.accuracy),
        "linear_probe_best_top1": round(float(probe.accuracy.max()), 4),
        "attention_distance_px_per_layer": _rounded(distance_px.mean(-1)),
        "attention_distance_px_per_head": _rounded(distance_px),
        "nmi_per_layer": _rounded(stats.nmi.mean(-1)),
        "knn_check_per_layer": knn_check(model, data_seed),
        **attributes,
        "chance_top1": round(1 / ShapeWorld.num_classes, 4),
        "chance_colour": round(1 / 8, 4),
        "chance_texture": round(1 / 5, 4),
        "eval_splits": {"bank": f"ShapeWorld val n={BANK}", "queries": f"test n={QUERIES}",
                        "attention": f"test n={ATTN_IMAGES}", "data_seed": data_seed},
    }


def random_init_baseline(num_classes: int, seed: int = 0, data_seed: int = 0) -> dict[str, Any]:
    """k-NN of the same architecture at random initialisation (seeded)."""
    torch.manual_seed(seed)
    res = evaluate(create_vit(num_classes=num_classes).eval(), data_seed, progress=False)
    return {k: res[k] for k in ("knn_top1_per_layer", "knn_best_layer", "knn_best_top1",
                                "linear_probe_best_top1", "knn_colour_best_top1",
                                "knn_texture_best_top1")}


def _training_record(ck: dict[str, Any]) -> dict[str, Any]:
    """The ``training`` part of the record of a trained encoder (``encoder.pt``)."""
    args = ck["args"]
    return {"steps": args["steps"], "batch_size": args["batch_size"], "lr": args["lr"],
            "weight_decay": args["weight_decay"], "seed": args["seed"],
            "epochs": round(args["steps"] * args["batch_size"] / args["train_size"], 2),
            "command": args["command"], "compute_minutes": round(ck["train_seconds"] / 60, 1),
            "device": args["device"], "threads": args["threads"], "host": args["host"],
            "final_loss": ck["history"][-1]["loss"],
            "recipe": {k: args[k] for k in RECIPE_OPTIONS.get(ck["method"], ()) if k in args}}


def export(encoder_path: str | Path, out: Path | None = None) -> Path:
    """Evaluate a trained encoder (``encoder.pt`` from the training CLI) and write
    ``zoo/weights/<method>.safetensors`` (float16) with the full training record."""
    from safetensors.torch import save_file

    ck = torch.load(encoder_path, map_location="cpu", weights_only=True)
    method, num_classes, args = ck["method"], int(ck["num_classes"]), ck["args"]
    model = create_vit(num_classes=num_classes)
    # the shipped weights are float16: measure exactly what ships
    model.load_state_dict({k: v.half().float() for k, v in ck["encoder"].items()})
    model.eval()
    t0 = time.time()
    measured = evaluate(model, args["data_seed"])
    baseline = random_init_baseline(num_classes, data_seed=args["data_seed"])
    record = {
        "method": method,
        "num_classes": num_classes,
        "architecture": "timm VisionTransformer",
        "config": dict(ARCH),
        "dataset": {"name": "ShapeWorld", "seed": args["data_seed"], "train_size":
                    args["train_size"], "image_size": 64},
        "training": _training_record(ck),
        "metrics": measured,
        "random_init": baseline,
        "eval_minutes": round((time.time() - t0) / 60, 1),
    }
    out = out or weights_path(method)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half().contiguous() for k, v in model.state_dict().items()}
    tmp = out.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={METADATA_KEY: json.dumps(record)})
    tmp.replace(out)
    out.chmod(0o644)
    print(json.dumps({k: record["metrics"][k] for k in ("knn_best_top1", "knn_best_layer",
                      "linear_probe_best_top1")} | {"random_init_knn":
                      baseline["knn_best_top1"]}, indent=1))
    return out


def main() -> None:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("encoder", nargs="?", help="encoder.pt written by the training CLI")
    ap.add_argument("--export", action="store_true", help="write the weights into the package")
    ap.add_argument("--zoo", choices=ZOO_NAMES, help="re-measure a bundled model")
    ap.add_argument("--card", action="store_true", help="write MODEL_CARD.md from the weights")
    args = ap.parse_args()
    if args.card:
        print(f"wrote {write_card()}")
    elif args.zoo:
        model, meta = load_zoo_model(args.zoo)
        print(json.dumps({"recorded": meta["metrics"]["knn_best_top1"],
                          "measured": evaluate(model)["knn_best_top1"]}))
    elif args.encoder and args.export:
        export(args.encoder)
    else:
        ap.error("give an encoder.pt with --export, or --zoo NAME")


if __name__ == "__main__":
    main()
