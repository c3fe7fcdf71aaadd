"""Property tests: the syntax model never raises and keeps positions inside the text.

Test data: random text from hypothesis, biased toward assembly punctuation.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]

from asm_lsp.syntax import normalize_function, parse, split_functions, token_at
from asm_lsp.syntax import parser as syntax_parser

# parse() swallows internal errors to protect the server; here they must fail the test.
syntax_parser.STRICT = True

PIECES = [
    "\n", "\r\n", "\r", "\t", " ", ":", ";", ",", "[", "]", "{", "}", "(", ")", '"', "\\", "#", "//",
    "/*", "*/", "@", "%", "=", "!", ".L1", "1", "1b", "2f", "x0", "v0.4s", "b.eq", "bl", "adrp",
    ":lo12:", "sym", ".globl", ".type", "f", "%function", ".size", ".-f", ".text", ".data",
    ".section", ".macro", ".endm", "\\arg", "ldr", "cbz", "\x00", "é", "\u2028", "\x0c", "𝔸",
    # macros (syntax/macros.py)
    ".macro function name, export=0\n", "\\name:", ".global \\name", "\\()", "function f, export=1\n",
    "endfunc\n", "SYM_FUNC_START(", "SYM_FUNC_END(", "ENTRY (", "END(", "#define ", "#define E(n) n: \\\n",
    ".irp i, 1, 2\n", ".endr\n", ".rept 2\n", ".if \\export\n", ".else\n", ".endif\n", ":req", ":vararg",
]
asm_text = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=80).map("".join),
    st.text(max_size=300),
)


def _check(text: str) -> None:
    doc = parse(text)
    lines = doc.lines
    assert "\n".join(lines) == text.replace("\r\n", "\n").replace("\r", "\n")

    def inside(line: int, start: int, end: int) -> None:
        assert 0 <= line < len(lines)
        assert 0 <= start <= end <= len(lines[line])

    previous = (-1, -1)
    for statement in doc.statements:
        inside(statement.line, statement.start, statement.end)
        inside(statement.line, statement.name_start, statement.name_end)
        assert (statement.line, statement.start) >= previous
        previous = (statement.line, statement.start)
        for operand in statement.operands:
            inside(statement.line, operand.start, operand.end)
            assert len(operand.text) == operand.end - operand.start
    for item in doc.labels + doc.refs:
        inside(item.line, item.start, item.end)
        if getattr(item, "defined_by", ":")[:1] in ":.=#":  # a macro invocation's name may be a template's
            assert lines[item.line][item.start : item.end].startswith(item.name.strip('"')[:1])
    for macro in doc.macros:
        inside(macro.line, macro.start, macro.end)
        assert lines[macro.line][macro.start : macro.end] == macro.name
        assert macro.line <= macro.end_line < len(lines)
    for block in doc.blocks:
        assert 0 <= block.start_line <= block.end_line < len(lines)
    for ref in doc.refs[:200]:
        if ref.target_line is not None:
            assert any(d.line == ref.target_line for d in doc.definitions(ref.name))
    for function in doc.functions:
        assert 0 <= function.start_line <= function.label_line <= function.end_line < len(lines)
        assert doc.function_at(function.label_line) is not None
    for line_no, line in enumerate(lines[:20]):
        for col in list(range(0, min(len(line), 200) + 2, 3)) + [len(line), len(line) + 1]:
            doc.label_at(line_no, col)
            doc.ref_at(line_no, col)
            token = token_at(line, col)
            if token is not None:
                assert line[token.start : token.end] == token.text
    split_functions(text)
    normalize_function(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(asm_text)
def test_parse_never_raises_and_positions_are_consistent(text: str) -> None:
    _check(text)


def test_pathological_inputs() -> None:
    for text in [
        "", "\n", ":", "::", '"', '"a', "/*", "*/", "a: b: c: ret", "1: 1: b 1b ; b 1f",
        "\tldr x0, [x1", "\tb " + "x" * 100_000, "[" * 5000 + "," * 5000, "\\" * 1000,
        ".type f, %function\nf:\n.size f", "= = =", "a = ", "\t.set", "\t.comm", "\x00\x01\x02",
        "a:" * 5000, "a: " * 5000 + "ret", "a," * 20000, "1: b 1f\n" * 2000,
        "\t.section\n\t.pushsection\n\t.popsection\n\t.popsection\n\t.previous",
        bytes(range(256)).decode("latin-1"),
    ]:
        _check(text)
