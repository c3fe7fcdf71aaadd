"""bench/soak.py, short: two minutes of typing with the real model through the real server.

Test data: bench/typing_replay.py's gcc -O2 document (bench/exec_completion/cases/*.c).
The 30-minute run is the benchmark (bench/results/soak.md); this keeps its checks honest.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.compilers
@pytest.mark.timeout(900)
def test_short_typing_soak_answers_everything_and_keeps_memory_flat(tmp_path):
    out = tmp_path / "soak"
    done = subprocess.run([sys.executable, "-m", "bench.soak", "--minutes", "2", "--typed-lines", "6", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT / "server")))
    report = json.loads(out.with_suffix(".json").read_text())
    assert len(report["rounds"]) >= 2, done.stderr[-2000:]
    assert report["timeouts"] == 0 and report["alive_at_end"], report
    assert report["rss_growth"] <= 0.05, report["rounds"]
    assert done.returncode == 0
