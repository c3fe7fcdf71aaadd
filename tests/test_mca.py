"""Pipeline analysis, the pure part (server/asm_lsp/analysis/mca.py), with the real llvm-mca.

llvm-mca comes with Debian's `llvm` package, which scripts/install-deps.sh installs: a
machine without it fails here rather than skipping. The missing and hanging programs
are fakes written by the tests. Test data: tests/fixtures/workspace/util.s.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asm_lsp.analysis.mca import McaError, build_input, find_mca, run_mca
from asm_lsp.syntax import parse

UTIL = Path(__file__).resolve().parent / "fixtures" / "workspace" / "util.s"


def sum_array_input():
    doc = parse(UTIL.read_text())
    function = next(f for f in doc.functions if f.name == "sum_array")
    return build_input(doc, function.start_line, function.end_line)


def test_input_keeps_instructions_and_labels_and_renames_numeric_labels():
    mca_input = sum_array_input()
    assert mca_input.text == (
        "sum_array:\n\tmov\tw2, 0\n.Lmca_7_1:\n\tcbz\tw1, .Lmca_11_2\n\tldr\tw3, [x0], 4\n"
        "\tadd\tw2, w2, w3\n\tsub w1, w1, 1\n\tb\t.Lmca_7_1\n.Lmca_11_2:\n\tmov\tw0, w2\n\tret\n")
    # util.s lines (0-based): 5 sum_array:, 7 `1: cbz`, 9 `add ... ; sub ...` (two statements), 11 `2: mov`.
    assert mca_input.source_lines == (5, 6, 7, 7, 8, 9, 9, 10, 11, 11, 12)
    assert mca_input.instructions == 8 and mca_input.skipped == ()


def test_input_names_what_it_leaves_out():
    doc = parse("f:\n\tadd x0, x0, x1\n\t.inst 0xd503201f\n\t.cfi_endproc\n")
    mca_input = build_input(doc, 0, 3)
    assert mca_input.text == "f:\n\tadd x0, x0, x1\n"
    assert mca_input.skipped == ((2, "`.inst` (data)"),)


def test_report_of_a_loop_on_cortex_a72():
    report = run_mca(find_mca(), sum_array_input(), "cortex-a72")
    assert (report.cpu, report.iterations, report.instructions) == ("cortex-a72", 100, 800)
    assert report.cycles_per_iteration == pytest.approx(report.total_cycles / 100)
    assert report.ipc == pytest.approx(800 / report.total_cycles, abs=0.01)
    assert report.block_rthroughput > 0 and report.dispatch_width > 0
    assert report.pressure and max(cycles for _, cycles in report.pressure) > 0
    assert report.backend_pressure is not None and report.bottlenecks
    assert report.bottleneck().endswith("% of cycles")
    markdown = report.markdown("`sum_array`")
    assert f"| cycles per iteration | {report.cycles_per_iteration:.2f}" in markdown
    assert f"| IPC | {report.ipc:.2f} (8 instructions" in markdown
    assert "Resource pressure per iteration: `" in markdown and "Critical sequence:" in markdown


def test_other_cpus_differ_and_unknown_ones_are_refused():
    mca_input = sum_array_input()
    program = find_mca()
    widths = {cpu: run_mca(program, mca_input, cpu).dispatch_width for cpu in ("cortex-a72", "apple-m1")}
    assert widths["apple-m1"] > widths["cortex-a72"]
    with pytest.raises(McaError, match="not a recognized processor"):
        run_mca(program, mca_input, "no-such-cpu")
    with pytest.raises(McaError, match="is not a CPU name"):
        run_mca(program, mca_input, "-o=/tmp/x")


def test_an_instruction_llvm_mca_rejects_is_named_by_its_source_line():
    doc = parse("f:\n\tadd x0, x0, x1\n\tld1d {z0.d}, p0/z, [x0]\n\tmy_macro x1\n\tret\n")
    mca_input = build_input(doc, 0, 4)
    report = run_mca(find_mca(), mca_input, "neoverse-n1")
    assert report.iterations == 100
    assert [line for line, _ in report.messages if line is not None] == [2, 3], report.messages
    assert "sve" in report.messages[0][1] and "unrecognized instruction mnemonic" in report.messages[1][1]
    assert "- line 3: error: instruction requires: sve" in report.markdown("f")
    with pytest.raises(McaError, match="is not a feature list"):
        run_mca(find_mca(), mca_input, "neoverse-n1", mattr="+sve -o x")


def test_nothing_to_analyse():
    doc = parse("f:\n\t.p2align 2\n")
    with pytest.raises(McaError, match="no instructions"):
        run_mca(find_mca(), build_input(doc, 0, 1), "cortex-a72")


def test_missing_llvm_mca_gives_one_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(McaError, match=r"'/nonexistent/llvm-mca' \(asmLsp.analysis.mcaPath\) not found"):
        find_mca("/nonexistent/llvm-mca")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(McaError, match="llvm-mca not found .*apt-get install llvm"):
        find_mca("")


def test_hanging_llvm_mca_is_stopped(tmp_path: Path):
    fake = tmp_path / "llvm-mca"
    fake.write_text("#!/bin/sh\nsleep 60 &\nwait\n")  # a child that holds the pipes open too
    fake.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(McaError, match="took longer than 0.5 s and was stopped"):
        run_mca(str(fake), sum_array_input(), "cortex-a72", timeout_s=0.5)
    assert time.monotonic() - started < 5


def test_the_program_is_never_given_to_a_shell(tmp_path: Path):
    marker = tmp_path / "pwned"
    with pytest.raises(McaError):
        find_mca(f"llvm-mca; touch {marker}")
    assert not marker.exists()
    assert os.sep in str(tmp_path)  # the test means something only with a real path above


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "server")}
    return subprocess.run([sys.executable, "-m", "asm_lsp", "mca", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_cli_function_lines_and_json():
    one = run_cli(f"{UTIL}:9", "--cpu", "cortex-a72")
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith("**Pipeline analysis** (llvm-mca, `cortex-a72`) of `sum_array` (util.s:3–14)\n")
    every = run_cli(str(UTIL), "--json")
    assert every.returncode == 0, every.stderr
    reports = json.loads(every.stdout)
    assert [(r["target"], r["cpu"], r["instructions"]) for r in reports] == [
        ("`sum_array` (util.s:3–14)", "neoverse-n1", 800), ("`square` (util.s:16–22)", "neoverse-n1", 200)]
    lines = run_cli(f"{UTIL}:9-10", "--json")
    assert json.loads(lines.stdout)[0]["instructions"] == 300


def test_cli_missing_llvm_mca_and_no_function():
    missing = run_cli(str(UTIL), "--llvm-mca", "/nonexistent/llvm-mca")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == ("asm-lsp: llvm-mca '/nonexistent/llvm-mca' (asmLsp.analysis.mcaPath) not found or "
                              "not executable; fix the setting or clear it to use llvm-mca from PATH\n")
    outside = run_cli(f"{UTIL}:1")
    assert outside.returncode == 1 and "line 1 of" in outside.stderr and "not inside a function" in outside.stderr
