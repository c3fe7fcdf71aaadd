"""models/evaluate.py: metrics, hole sampling, and one real evaluation of a few holes.

Test data: bench/exec_completion/cases/add_two_arrays.c and bubble_sort.c, compiled here by
aarch64-linux-gnu-gcc and clang (the evaluation's own compile step); the slow test uses the
real base model (resolve_model) through the server's engine.
"""
from __future__ import annotations

import json

import pytest

from models import evaluate
from models.evaluate import AsmFile, edit_similarity, exact_match, levenshtein, normalize_line


def test_normalize_line_collapses_whitespace_and_comma_spacing():
    assert normalize_line("\tadd\tx0,x1,  x2 ") == "add x0, x1, x2"
    assert normalize_line("ldr w0, [sp , 44]") == "ldr w0, [sp, 44]"
    assert normalize_line("   ") == ""


def test_exact_match_ignores_whitespace_not_operands():
    assert exact_match("add\tw0, w0, 1", "add w0,w0,1")
    assert exact_match("\tmov x0, x1\n\tret\n", "mov\tx0, x1\n\tret")
    assert not exact_match("add w0, w0, 1", "add w0, w0, 2")
    assert not exact_match("add x0, x0, 1", "add w0, w0, 1")
    assert not exact_match("", "ret")
    assert not exact_match("mov x0, x1", "mov x0, x1\nret")  # a block must match every line


def test_levenshtein_known_values():
    assert levenshtein("", "") == 0
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("flaw", "lawn") == 2
    assert levenshtein("abc", "") == 3
    assert levenshtein("add", "add") == 0


def test_edit_similarity_scale_and_normalisation():
    assert edit_similarity("add\tw0,w0,1", "add w0, w0, 1") == 100.0
    assert edit_similarity("", "") == 100.0
    assert edit_similarity("", "ret") == 0.0
    # "ldr w1, [x0]" vs "ldr w2, [x0]": one substitution in 12 characters
    assert edit_similarity("ldr w1, [x0]", "ldr w2, [x0]") == pytest.approx(100 * (1 - 1 / 12))
    assert 0 <= edit_similarity("b .L2", "cmp w1, w0") < 50


ASM = """\t.text
\t.align\t2
\t.global\tf
\t.type\tf, %function
f:
\tmov\tx2, x0
\tadd\tx0, x2, x1
.L1:
\tsub\tx0, x0, 1
\tcbnz\tx0, .L1
\tret
\t.size\tf, .-f
"""


def test_hole_candidates_are_instruction_lines_of_functions():
    file = AsmFile("t/f.s", "t", "gcc", "O2", ASM)
    lines = [h.line for h in evaluate.hole_candidates(file, "line")]
    assert lines == [5, 6, 8, 9, 10]
    blocks = evaluate.hole_candidates(file, "block")
    assert [(h.line, h.expected) for h in blocks] == [
        (8, "sub\tx0, x0, 1\n\tcbnz\tx0, .L1\n\tret")]  # never across the .L1 label
    hole = evaluate.hole_candidates(file, "line")[1]
    assert hole.indent == "\t" and hole.expected == "add\tx0, x2, x1" and hole.col == 1
    document = hole.document({file.id: file}).split("\n")
    assert document[6] == "\t" and document[5] == "\tmov\tx2, x0" and document[7] == ".L1:"


def _files() -> list[AsmFile]:
    files = []
    for compiler in ("gcc", "clang"):
        for opt in ("O0", "O2"):
            body = ASM.replace("f", f"f_{compiler}_{opt}")
            files += [AsmFile(f"{compiler}-{opt}/{i}", "t", compiler, opt, body * 3) for i in range(3)]
    return files


def test_hole_sampling_is_deterministic_and_per_group():
    files = _files()
    first = evaluate.sample_holes(files, {"line": 4, "block": 1}, seed=7)
    again = evaluate.sample_holes(list(reversed(files)), {"line": 4, "block": 1}, seed=7)
    assert [h.id for h in first] == [h.id for h in again]
    assert len(first) == 4 * (4 + 1)
    other_seed = evaluate.sample_holes(files, {"line": 4, "block": 1}, seed=8)
    assert [h.id for h in other_seed] != [h.id for h in first]
    # dropping a group leaves the other groups' holes where they were
    fewer = evaluate.sample_holes([f for f in files if f.opt != "O0"], {"line": 4, "block": 1}, seed=7)
    assert [h.id for h in fewer] == [h.id for h in first if h.opt != "O0"]
    ordered = evaluate.round_robin(first)
    assert sorted(h.id for h in ordered) == sorted(h.id for h in first)
    assert len({(h.compiler, h.opt) for h in ordered[:4]}) == 4  # every group before any second hole


def test_update_card_replaces_its_own_section_only(tmp_path):
    card = tmp_path / "README.md"
    card.write_text("# Model\n\nintro\n")
    evaluate.update_card(card, "eval_cases", "table one\n")
    evaluate.update_card(card, "eval_test", "table two\n")
    evaluate.update_card(card, "eval_cases", "table three\n")
    text = card.read_text()
    assert text.startswith("# Model\n\nintro\n")
    assert "table three" in text and "table two" in text and "table one" not in text


@pytest.mark.compilers
def test_example_holes_pick_the_loop_addition(tmp_path):
    files = evaluate.compile_cases(evaluate.CASES_DIR, tmp_path, ("O0", "O2"), {"add_two_arrays"})
    examples = evaluate.example_holes(files)
    assert [(h.compiler, h.opt) for h in examples] == [("clang", "O0"), ("clang", "O2"), ("gcc", "O0"), ("gcc", "O2")]
    assert all(h.expected.startswith("add\t") and h.function == "add_two_arrays" for h in examples)


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.timeout(600)
@pytest.mark.compilers
def test_real_evaluation_of_a_few_holes(tmp_path, base_gguf):
    out = tmp_path / "eval_tiny.json"
    card = tmp_path / "README.md"
    rc = evaluate.main(["run", "--source", "cases", "--case", "add_two_arrays", "--case", "bubble_sort", "--opts", "O2",
                        "--holes", "1", "--block-holes", "0", "--no-examples", "--system", "base",
                        "--out", str(out), "--card", str(card), "--work", str(tmp_path / "work")])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["systems"] == ["base"] and report["counts"]["holes"] == 2
    assert report["models"]["base"]["model_sha256"] == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    holes = report["holes"]
    assert sorted(h["id"].split("/")[2] for h in holes) == ["clang-O2", "gcc-O2"]
    for hole in holes:
        answer = hole["answers"]["base"]
        assert "\n" not in answer["text"]  # a one-line hole: cut to one line as the server cuts
        assert answer["exact"] == exact_match(answer["text"], hole["expected"])
        assert answer["edit_sim"] == pytest.approx(edit_similarity(answer["text"], hole["expected"]))
        assert answer["assembles"] in (True, False, None) and (answer["assembles"] is None) == (not answer["text"].strip())
    line = report["metrics"]["base"]["line"]
    assert line["all"]["n"] == 2 and set(line) == {"all", "clang -O2", "gcc -O2"}
    assert line["all"]["exact"] == 50.0 * sum(h["answers"]["base"]["exact"] for h in holes)
    (place, speed), = report["speed"]["base"].items()  # one place: this machine
    assert speed["answers"] == 2 and speed["prompt_tokens"] > 100  # the server's window, not a stub
    assert "<!-- eval:eval_tiny:begin -->" in card.read_text()
