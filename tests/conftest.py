"""Shared test set-up: offline hub, few threads, and the path of the real DINOv2 weights."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))

REPO = Path(__file__).resolve().parents[1]
DINOV2_WEIGHTS = Path(
    os.environ.get(
        "VITWIDGETS_DINOV2_WEIGHTS",
        REPO.parent / "shared" / "weights" / "dinov2_vits14_imgfocus_224.safetensors",
    )
)


@pytest.fixture(scope="session")
def dinov2_weights() -> Path:
    if not DINOV2_WEIGHTS.is_file():
        pytest.skip(f"real DINOv2 weights not found at {DINOV2_WEIGHTS} (see shared/weights)")
    return DINOV2_WEIGHTS


BROWSER_TESTS = REPO / "tests" / "browser"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The real-browser tests run last. Playwright's sync API keeps an asyncio loop running
    in the main thread until the session ends, and a widget that sees a running loop computes
    in the background, as in a notebook: tests after the browser tests would see views that
    are still filling in instead of the computed numbers they check."""
    items.sort(key=lambda item: BROWSER_TESTS in Path(str(item.fspath)).resolve().parents)
