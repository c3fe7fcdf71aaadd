"""Diagnostics from the real assembler: zero false errors on compiler output, correct
ranges on broken input, label checks GNU as leaves to the linker.

Test data: tests/fixtures/c/*.c and tests/fixtures/docs_c/*.c compiled with the cross
gcc and clang at -O0..-O3 and -Os (tests/samples.py); small broken snippets inline.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import samples
import pytest

from asm_lsp.assembler import AsmMessage, assemble, find_assembler, parse_messages
from asm_lsp.features.diagnostics import build_diagnostics, label_diagnostics
from asm_lsp.syntax import parse

pytestmark = pytest.mark.compilers
SOURCES = samples.C_SOURCES + sorted((samples.FIXTURES / "docs_c").glob("*.c"))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> list[samples.Compiled]:
    out = tmp_path_factory.mktemp("diag")
    jobs = [(src, cc, opt) for src in SOURCES for cc in samples.COMPILERS for opt in (*samples.OPT_LEVELS, "-Os")]
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda job: samples.compile_c(job[0], out, job[1], job[2]), jobs))


def test_no_false_errors_on_compiler_output(compiled: list[samples.Compiled]):
    asm = find_assembler()
    assert len(compiled) >= 100
    false = {}
    for item in compiled:
        text = item.asm.read_text()
        result = assemble(asm, text)
        diagnostics = build_diagnostics(parse(text), result.messages, "as")
        if diagnostics or result.failed_to_run:
            false[item.id] = [d.message for d in diagnostics] or [result.failed_to_run]
    assert false == {}


def test_broken_buffer_messages_and_ranges():
    text = "\t.text\nf:\n\tadd x0, x1\n\tbogus x1 // note\n\tb .Lnowhere\n\tcbz x0, 3f\n\tret\n"
    doc = parse(text)
    diagnostics = build_diagnostics(doc, assemble(find_assembler(), text).messages, "as")
    summary = [(d.range.start.line, d.range.start.character, d.range.end.character, d.source) for d in diagnostics]
    assert summary == [(2, 1, 11, "as"), (3, 1, 9, "as"), (4, 3, 12, "asm-lsp"), (5, 9, 11, "asm-lsp")]
    assert "unknown mnemonic" in diagnostics[1].message
    assert "not defined in this file" in diagnostics[2].message


def test_label_diagnostics_accept_defined_and_numeric_labels():
    text = "f:\n1:\tsub x0, x0, 1\n\tcbnz x0, 1b\n\tb .Lend\n.Lend:\n\tret\n"
    assert label_diagnostics(parse(text)) == []


def test_parse_messages_gnu_llvm_and_cpp():
    gnu = "{standard input}: Assembler messages:\n{standard input}:3: Error: unknown mnemonic `x'\n{standard input}:6: Warning: hi\n"
    assert parse_messages("gnu", gnu) == [AsmMessage(2, "error", "unknown mnemonic `x'"), AsmMessage(5, "warning", "hi")]
    llvm = "<stdin>:2:3: error: too few operands for instruction\n  add x0, x1\n  ^\n<stdin>:4:1: note: whatever\n"
    assert parse_messages("llvm-mc", llvm) == [AsmMessage(1, "error", "too few operands for instruction", 2)]
    cpp = "<stdin>:1:10: fatal error: x.h: No such file or directory\n"
    assert parse_messages("gnu", cpp) == [AsmMessage(0, "error", "x.h: No such file or directory", 9)]
    other_file = "inc.h:3: Error: bad\n"
    assert parse_messages("gnu", other_file) == []


def test_preprocessed_buffer(tmp_path: Path):
    (tmp_path / "defs.h").write_text("#define ANSWER 42\n")
    text = '#include "defs.h"\n\t.text\nf:\n\tmov x0, #ANSWER\n\tnotreal\n\tret\n'
    result = assemble(find_assembler(), text, preprocess=True, include_dir=tmp_path)
    assert [(m.line, m.severity) for m in result.messages] == [(4, "error")]


def test_hanging_assembler_is_stopped(tmp_path: Path):
    slow = tmp_path / "slow-as"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    result = assemble(find_assembler(str(slow)), "\tret\n", timeout_s=0.5)
    assert result.failed_to_run is not None and "longer than" in result.failed_to_run
