"""bench/typing_replay.py: its documents, and a tiny replay against the real server and model.

Test data: bench/exec_completion/cases/*.c compiled by aarch64-linux-gnu-gcc -O2 -S (the
benchmark's own document builder).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import typing_replay

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.compilers
def test_document_is_about_300_lines_around_one_whole_function(tmp_path):
    (doc,) = typing_replay.build_documents(["gcc-O2"], tmp_path)
    assert 250 <= len(doc.lines) <= typing_replay.DOC_LINES
    assert typing_replay.TYPED_LINES[0] <= doc.end - doc.start + 1 <= typing_replay.TYPED_LINES[1]
    name = doc.name.split(":", 1)[1]
    typed = "\n".join(doc.typed)
    assert f"\t.type\t{name}, %function" in typed and f"\t.size\t{name}, .-{name}" in typed
    opened = doc.opened.split("\n")
    assert opened[doc.start] == "" and len(opened) == len(doc.lines) - len(doc.typed) + 1
    assert f"{name}:" not in opened  # the function is only in the typed region


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.compilers
def test_tiny_replay_types_the_lines_back_and_reports(tmp_path):
    out = tmp_path / "replay"
    subprocess.run([sys.executable, "-m", "bench.typing_replay", "--docs", "gcc-O2", "--settings",
                    "no-asm-check", "--typed-lines", "2", "--no-direct", "--memory-settings", "", "--open-settings", "",
                    "--out", str(out)],
                   check=True, timeout=280, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT / "server")))
    report = json.loads(out.with_suffix(".json").read_text())
    (replay,) = report["replays"]
    assert replay["text_matches"], "the didChange stream did not rebuild the file"
    kinds = {r["kind"] for r in replay["requests"]}
    assert {"first", "line-start"} <= kinds  # per-key requests too, unless a suggestion was accepted whole
    (doc,) = typing_replay.build_documents(["gcc-O2"], tmp_path)
    assert replay["keys"] + replay["accepted_chars"] == len("\n".join(doc.typed[:2]))
    assert replay["hwm_kb"] > 100_000  # the model is resident
    summary = report["summary"]["no-asm-check"]
    assert summary["outcomes_all"]["n"] == len([r for r in replay["requests"] if r["kind"] != "first"])
    assert "| p50 answered, pause points" in out.with_suffix(".md").read_text()
