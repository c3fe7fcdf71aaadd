"""The execution benchmark's harness and test programs are right.

Test data: bench/exec_completion/cases/ (C functions and their test programs).
Needs the AArch64 cross toolchain and qemu-aarch64; skipped where they are absent.
"""
from __future__ import annotations

from collections import Counter

import pytest

from bench.exec_completion import run as bench
from bench.exec_completion.holes import Hole, candidate_starts, normalize_code, pick_holes, undefined_local_labels

SMALL_ASM = """\t.text
\t.globl\tf
\t.type\tf, %function
f:
\tmov\tw1, 3 // three
.L2:
\tsubs\tw1, w1, #1
\tb.ne\t.L2
\tadd\tw0, w0, w1
\tret
\t.size\tf, .-f
"""


def test_holes_are_instruction_runs_inside_functions():
    lines = SMALL_ASM.split("\n")
    assert candidate_starts(lines, 1) == [4, 6, 7, 8, 9]
    assert candidate_starts(lines, 3) == [6, 7]  # `.L2:` breaks runs that cross it


def test_oracle_fill_restores_the_file_and_empty_fill_leaves_a_blank_line():
    hole = Hole("c", "gcc", "O0", "block", 6, 3, SMALL_ASM)
    assert hole.original == "\tsubs\tw1, w1, #1\n\tb.ne\t.L2\n\tadd\tw0, w0, w1"
    assert hole.holed_text().split("\n")[5:8] == [".L2:", "", "\tret"]
    assert hole.filled_text(hole.original) == SMALL_ASM
    assert hole.filled_text("").split("\n")[5:8] == [".L2:", "", "\tret"]
    assert normalize_code(hole.filled_text("subs w1,w1,#1\nb.ne .L2\n  add w0,  w0, w1")) == normalize_code(SMALL_ASM)


def test_undefined_local_labels_are_named():
    assert undefined_local_labels(SMALL_ASM) == []
    assert undefined_local_labels(SMALL_ASM.replace("b.ne\t.L2", "b.ne\t.L7")) == [".L7"]


def test_holes_are_chosen_by_seed():
    first = pick_holes("c", "gcc", "O0", SMALL_ASM, 2, seed=1)
    assert first == pick_holes("c", "gcc", "O0", SMALL_ASM, 2, seed=1)
    assert Counter(h.kind for h in first) == {"line": 2, "block": 2}


SMOKE_CASES = ["add_two_arrays", "crc32", "apply_op"]


@pytest.mark.compilers
@pytest.mark.qemu
def test_oracle_passes_every_hole_and_empty_fails_some(tmp_path):
    cases = SMOKE_CASES
    outcomes, meta = bench.run_benchmark(cases, ["oracle", "empty"], holes_per_file=2, seed=0, jobs=2,
                                         run_timeout=5.0, root=tmp_path)
    oracle = [o for o in outcomes if o.filler == "oracle"]
    empty = [o for o in outcomes if o.filler == "empty"]
    assert len(oracle) == len(empty) == meta["holes"] == 3 * 4 * 2 * 2
    assert Counter(o.status for o in oracle) == {"pass": len(oracle)}
    assert all(o.exact and o.assembles for o in oracle)
    assert any(o.status != "pass" for o in empty)
    assert not any(o.exact for o in empty)


@pytest.mark.compilers
@pytest.mark.qemu
def test_branch_to_missing_label_is_reported(tmp_path):
    work = bench.Workspace(tmp_path, run_timeout=5.0)
    [config, *_] = bench.build(["add_two_arrays"], work, jobs=1)
    broken = config.asm.replace("\tb\t.L2", "\tb\t.L99", 1)
    assert broken != config.asm
    status, assembles, detail, _ = work.verdict("add_two_arrays", broken)
    assert (status, assembles, detail) == ("undefined_label", True, "undefined local label(s): .L99")


@pytest.mark.compilers
@pytest.mark.qemu
def test_smoke_case_tests_pass_when_built_from_c(tmp_path):
    assert bench.verify_tests(SMOKE_CASES, jobs=2, run_timeout=5.0, root=tmp_path) == {}


@pytest.mark.compilers
@pytest.mark.qemu
@pytest.mark.slow  # 160 builds and runs: ~25 s on an idle 2-core machine, over a minute when shared
def test_every_case_test_passes_when_built_from_c(tmp_path):
    cases = bench.all_cases()
    assert len(cases) >= 32 and "add_two_arrays" in cases
    assert bench.verify_tests(cases, jobs=2, run_timeout=5.0, root=tmp_path) == {}


@pytest.mark.model
@pytest.mark.slow
def test_lsp_accept_takes_a_block_line_by_line_from_the_real_server(tmp_path):
    """``lsp-accept:default``: ask at the hole, accept, Enter, ask again on the new line, with
    the real server and model. The fill is the accepted lines (at most the hole's count, none
    blank), each asked for at the line after the last; the latency is the waits alone."""
    from bench.exec_completion import fillers
    from bench.samples import FACT

    lines = FACT.split("\n")
    start = next(i for i, text in enumerate(lines) if text.startswith("\tmul\t")) - 1
    hole = Hole("fact", "gcc", "O1", "block", start, 3, FACT)
    filler = fillers.make_filler("lsp-accept:default", tmp_path, request_timeout=60.0, warmup_timeout=120.0)
    asked: list[int] = []
    request = fillers.LspClient.request

    def spy(self, method, params=None, timeout=10.0):
        if method == "textDocument/inlineCompletion":
            asked.append(params["position"]["line"])
        return request(self, method, params, timeout)

    try:
        fillers.LspClient.request = spy
        fill = filler.fill(hole)
    finally:
        fillers.LspClient.request = request
        filler.close()
    assert filler.name == "lsp-accept:default"
    assert fill.text, fill.error
    got = fill.text.split("\n")
    assert 1 <= len(got) <= 3 and all(line.strip() for line in got), got
    session = asked[len(asked) - 1 - asked[::-1].index(start):]  # from the last ask at the hole (after the warm-up's)
    assert session[:len(got)] == list(range(start, start + len(got))), asked
    assert 0 < fill.seconds < 3 * 2.0 + 1.0  # three waits of at most the 2 s budget, no reading time
