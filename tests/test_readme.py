"""The README's Python examples run as written, offline, top to bottom in one namespace.

A statement whose line says it "needs the model hub" must fail offline with the error the
README promises (``WeightsUnavailableError``); every other statement must run. The local
checkpoint the loading example names is written first (random weights of that architecture).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
ONLINE = "needs the model hub"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def statements(block: str) -> list[tuple[str, ast.Module]]:
    """``(source, module)`` of each top-level statement of a code block."""
    lines = block.splitlines()
    tree = ast.parse(block)
    return [
        ("\n".join(lines[s.lineno - 1 : s.end_lineno]), ast.Module([s], type_ignores=[]))
        for s in tree.body
    ]


@pytest.fixture
def checkpoint_dir(tmp_path, monkeypatch):
    import timm
    from safetensors.torch import save_file

    net = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=224)
    save_file(net.state_dict(), str(tmp_path / "dinov2_vits14.safetensors"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_readme_python_examples_run_offline_as_written(checkpoint_dir, capsys):
    import vitwidgets as vw

    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4, "the README lost its examples"
    namespace: dict = {}
    online = 0
    for block in blocks:
        for source, module in statements(block):
            code = compile(module, "README.md", "exec")
            if ONLINE in source:
                online += 1
                with pytest.raises(vw.WeightsUnavailableError, match="Offline alternatives"):
                    exec(code, namespace)
                continue
            try:
                exec(code, namespace)
            except Exception as e:
                pytest.fail(f"README example failed: {source!r}: {type(e).__name__}: {e}")
    assert online >= 1
    assert "ViTModel('vit_small_patch14_dinov2'" in capsys.readouterr().out
