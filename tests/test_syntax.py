"""The pure syntax model on small hand-written fixtures (no compilers needed).

Test data: tests/fixtures/asm/small.s, tests/fixtures/asm/hand_memcpy.s.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

from asm_lsp.syntax import (
    Function,
    LabelDef,
    LabelRef,
    Operand,
    Statement,
    Token,
    normalize_function,
    parse,
    split_functions,
    token_at,
)

ASM = ROOT / "tests" / "fixtures" / "asm"
SMALL = (ASM / "small.s").read_text()
HAND = (ASM / "hand_memcpy.s").read_text()


def test_small_fixture_whole_objects() -> None:
    doc = parse(SMALL)
    assert doc.lines[0] == '# 1 "small.S"' and doc.lines[-1] == ""
    assert doc.statements == [
        Statement(1, "directive", ".text", 1, 6, [], 1, 6),
        Statement(2, "directive", ".globl", 1, 7, [Operand("add3", 8, 12)], 1, 12),
        Statement(3, "label", "add3", 0, 4, [], 0, 5),
        Statement(3, "instruction", "add", 6, 9, [Operand("x0", 10, 12), Operand("x0", 14, 16), Operand("x1", 18, 20)], 6, 20),
        Statement(3, "instruction", "add", 23, 26, [Operand("x0", 27, 29), Operand("x0", 31, 33), Operand("x2", 35, 37)], 23, 37),
        Statement(4, "label", "1", 0, 1, [], 0, 2),
        Statement(4, "instruction", "subs", 3, 7, [Operand("x0", 8, 10), Operand("x0", 12, 14), Operand("#1", 16, 18)], 3, 18),
        Statement(5, "instruction", "b.ne", 1, 5, [Operand("1b", 6, 8)], 1, 8),
        Statement(6, "instruction", "ret", 1, 4, [], 1, 4),
    ]
    add3 = LabelDef("add3", 3, 0, 4, "global", "add3")
    one = LabelDef("1", 4, 0, 1, "numeric", "add3")
    assert doc.labels == [add3, one]
    assert doc.refs == [LabelRef("add3", 2, 8, 12), LabelRef("1", 5, 6, 8, target_line=4, numeric=True)]
    assert doc.functions == [Function("add3", 2, 6, 3, "label", [one])]
    assert doc.globals == {"add3"}
    assert doc.label_at(3, 2) == add3 and doc.label_at(3, 4) == add3 and doc.label_at(3, 6) is None
    assert doc.ref_at(5, 7) == LabelRef("1", 5, 6, 8, 4, True)
    assert doc.function_at(0) is None and doc.function_at(6).name == "add3"
    assert doc.definitions("1") == [one] and doc.definitions("nope") == []


def test_hand_fixture_labels_refs_functions() -> None:
    doc = parse(HAND)
    refs = [(r.name, r.line, r.target_line) for r in doc.refs]
    # Nothing from comments, macro arguments, registers, conditions or shifts.
    assert refs == [
        ("fast_memcpy", 17, None),
        ("2", 19, 23),  # cbz x2, 2f -> forward
        ("1", 22, 20),  # b.ne 1b -> backward
        ("sum_table", 25, None),
        ("table", 29, None),
        ("table", 30, None),  # :lo12:table
        ("1", 37, 33),  # the second `1:`, not the first
        ("fast_memcpy", 38, None),
        ("fast_memcpy", 46, None),  # .xword fast_memcpy+8
    ]
    assert [(f.name, f.start_line, f.end_line, f.label_line, f.kind) for f in doc.functions] == [
        ("fast_memcpy", 16, 23, 18, "label"),  # from `.p2align 4` through `2: ret`
        ("sum_table", 25, 42, 26, "label"),  # ends before `.data`
    ]
    assert [(label.name, label.line) for label in doc.functions[1].local_labels] == [("1", 33)]
    assert [(d.name, d.kind, d.defined_by, d.function) for d in doc.labels if d.kind != "numeric"] == [
        ("push_pair", "symbol", ".macro", None),  # macros are definitions too (syntax/macros.py)
        ("pop_pair", "symbol", ".macro", None),
        ("fast_memcpy", "global", ":", "fast_memcpy"),
        ("sum_table", "global", ":", "sum_table"),
        ("table", "symbol", ":", None),
        ("TABLE_LEN", "symbol", ".equ", None),
        ("msg", "symbol", ":", None),
    ]
    # `;` splits statements; `//` and `;` inside a string do not.
    line21 = [(s.name, [o.text for o in s.operands]) for s in doc.statements_on(21 - 1)]
    assert line21 == [("1", []), ("ldrb", ["w4", "[x1]", "#1"]), ("strb", ["w4", "[x3]", "#1"])]
    assert [o.text for o in doc.statements_on(49)[1].operands] == ['"a; b // c /* d"']
    # The statement after a block comment that closes mid-line is found.
    assert [s.name for s in doc.statements_on(35)] == ["add"]
    assert doc.statements_on(34) == []


def test_macro_bodies_are_directives_and_instructions() -> None:
    doc = parse(HAND)
    names = [(s.kind, s.name) for s in doc.statements if 9 <= s.line <= 14]
    assert names == [
        ("directive", ".macro"), ("instruction", "stp"), ("directive", ".endm"),
        ("directive", ".macro"), ("instruction", "ldp"), ("directive", ".endm"),
    ]
    assert [o.text for o in doc.statements_on(10)[0].operands] == ["\\a", "\\b", "[sp, #-16]!"]


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_cr_parse_like_lf(newline: str) -> None:
    lf = parse(HAND)
    other = parse(HAND.replace("\n", newline))
    assert other.lines == lf.lines
    assert other.statements == lf.statements
    assert other.refs == lf.refs and other.labels == lf.labels and other.functions == lf.functions


def test_tabs_and_spaces_give_the_same_statements() -> None:
    tabs = parse(HAND)
    spaces = parse(HAND.expandtabs(8))

    def shape(doc):
        return [(s.line, s.kind, s.name, [o.text for o in s.operands]) for s in doc.statements]

    assert shape(spaces) == shape(tabs)
    assert [(r.name, r.line) for r in spaces.refs] == [(r.name, r.line) for r in tabs.refs]


def test_hash_is_a_comment_only_in_column_zero() -> None:
    doc = parse('# 1 "x.c"\n\tmov x0, #1\n #junk\n')
    assert [(s.line, s.name) for s in doc.statements] == [(1, "mov"), (2, "#junk")]
    assert doc.statements[0].operands == [Operand("x0", 5, 7), Operand("#1", 9, 11)]
    assert doc.statements[1].kind == "unknown"


def test_at_sign_is_not_a_comment() -> None:
    doc = parse("\t.type f, @function\nf: ret\n\t.size f, .-f\n")
    assert doc.functions[0].kind == "typed" and doc.functions[0].end_line == 2


def test_registers_conditions_shifts_are_not_refs() -> None:
    text = (
        "\tcsel x0, x1, x2, eq\n\tadd x0, x1, w2, uxtw #2\n\tld1 {v0.4s, v1.4s}, [x0]\n"
        "\tmov v1.s[1], w0\n\tfmov d0, #2.5\n\tldr q3, [sp, #16]\n\tmov x29, sp\n\tmov w0, wzr\n"
        "\tstp fp, lr, [sp, #-16]!\n\tprfm pldl1keep, [x0]\n\tmrs x0, tpidr_el0\n\tdmb ish\n"
        "\tmovk w10, #21845, lsl #16\n\tptrue p0.s, vl8\n\tld1w {z0.s}, p0/z, [x0]\n\tmov x0, 0x1f\n"
    )
    assert parse(text).refs == []


def test_symbol_refs_in_operands() -> None:
    text = (
        "\tadrp x0, :got:ext\n\tldr x0, [x0, #:got_lo12:ext]\n\tadd x1, x1, :lo12:.LC0+8\n"
        "\tbl eq\n\ttbnz w0, #3, .L5\n\t.word .L3-.L2\n\t.size f, .Lfunc_end0-f\n\tldr x0, =big\n"
    )
    refs = [(r.name, r.line, r.start, r.end) for r in parse(text).refs]
    assert refs == [
        ("ext", 0, 15, 18), ("ext", 1, 25, 28), (".LC0", 2, 19, 23),
        ("eq", 3, 4, 6),  # a branch target, even if it reads like a condition
        (".L5", 4, 14, 17), (".L3", 5, 7, 10), (".L2", 5, 11, 14),
        ("f", 6, 7, 8), (".Lfunc_end0", 6, 10, 21), ("f", 6, 22, 23), ("big", 7, 10, 13),
    ]


def test_numeric_refs_resolve_to_nearest_definition() -> None:
    text = "1: nop\n b 1f\n b 1b\n1: nop\n b 1b\n b 2f\n 1: b 1b\n"
    refs = [(r.line, r.target_line) for r in parse(text).refs]
    assert refs == [(1, 3), (2, 0), (4, 3), (5, None), (6, 6)]


def test_functions_typed_and_clang_cfi_endproc() -> None:
    text = (
        "\t.text\n\t.globl\tf // -- Begin function f\n\t.p2align\t2\n\t.type\tf,@function\n"
        "f:\n\t.cfi_startproc\n\tret\n.Lfunc_end0:\n\t.size\tf, .Lfunc_end0-f\n\t.cfi_endproc\n"
        "                                        // -- End function\n"
        "\t.globl\tg\n\t.type\tg,@function\ng:\n\tret\n"
    )
    doc = parse(text)
    assert [(f.name, f.start_line, f.end_line, f.label_line) for f in doc.functions] == [
        ("f", 1, 9, 4),
        ("g", 11, 14, 13),  # no .size: runs to the end of the file
    ]
    pieces = split_functions(text)
    assert pieces[0].text.splitlines()[0].startswith("\t.globl\tf")
    assert pieces[0].text.splitlines()[-1] == "\t.cfi_endproc"
    assert [label.name for label in doc.functions[0].local_labels] == [".Lfunc_end0"]


def test_global_data_is_not_a_function() -> None:
    doc = parse("\t.data\n\t.globl tbl\ntbl: .word 1\n\t.text\n\t.globl f\nf: ret\n")
    assert [f.name for f in doc.functions] == ["f"]


def test_token_at_kinds() -> None:
    line = "loop:\tldr x0, [x1, :lo12:.LC0] // x9"
    assert token_at(line, 0) == Token("loop", 0, 4, "label")
    assert token_at(line, 4) == Token("loop", 0, 4, "label")  # just after the word
    assert token_at(line, 7) == Token("ldr", 6, 9, "mnemonic")
    assert token_at(line, 10) == Token("x0", 10, 12, "register")
    assert token_at(line, 21) == Token("lo12", 20, 24, "other")
    assert token_at(line, 26) == Token(".LC0", 25, 29, "label")
    assert token_at(line, 35) is None  # in a comment
    assert token_at("\t.globl foo", 3) == Token(".globl", 1, 7, "directive")
    assert token_at("\t.globl foo", 9) == Token("foo", 8, 11, "symbol")
    assert token_at("\tb.ne 1b", 2) == Token("b.ne", 1, 5, "mnemonic")
    assert token_at("\tb.ne 1b", 6) == Token("1b", 6, 8, "label")
    assert token_at("\tmov x0, #42", 10) == Token("42", 10, 12, "number")
    assert token_at("\tcsel x0, x1, x2, eq", 18) == Token("eq", 18, 20, "other")
    assert token_at("\tmov v0.4s, v1.4s", 6) == Token("v0.4s", 5, 10, "register")
    assert token_at("", 0) is None and token_at("  ", 1) is None and token_at("x", 99) is None


def test_normalize_function_renames_and_strips() -> None:
    a = (
        "\t.globl\tfoo\n\t.type\tfoo, %function\nfoo:\n.LFB0:\n\t.file 1 \"a.c\"\n\t.loc 1 2 3\n"
        "\t.cfi_startproc\n\tcbz\tw0,   .L7 // why\n\tbl\tfoo\n\n.L7:\n\tadrp\tx0, .LC3\n"
        "\tret\t/* done */\n\t.cfi_endproc\n.LFE0:\n\t.size\tfoo, .-foo\n"
    )
    expected = (
        ".globl FUNC\n.type FUNC, %function\nFUNC:\n.L0:\ncbz w0, .L1\nbl FUNC\n.L1:\n"
        "adrp x0, .L2\nret\n.L3:\n.size FUNC, .-FUNC"
    )
    assert normalize_function(a) == expected
    b = a.replace("foo", "bar").replace(".L7", ".L12").replace(".LC3", ".LC0").replace("\t", "  ")
    assert normalize_function(b, "bar") == expected
    assert normalize_function('\t.ascii "a  b"\n') == '.ascii "a  b"'


def test_parse_20k_lines_is_fast() -> None:
    """Regression guard for accidental per-character work (budget 100 ms; CI is shared)."""
    doc_lines = []
    for i in range(1000):
        doc_lines += [
            f"\t.globl\tf{i}", f"\t.type\tf{i}, %function", f"f{i}:", ".LFB0:", "\t.cfi_startproc",
            "\tstp\tx29, x30, [sp, -32]!", "\tmov\tx29, sp", f"\tcbz\tw0, .L{i}", "\tadrp\tx0, .LC0",
            "\tadd\tx0, x0, :lo12:.LC0", "\tbl\tputs", f".L{i}:", "\tldp\tx29, x30, [sp], 32",
            "\tcsel\tw0, w1, w2, eq", "\tadd\tx0, x0, x1, lsl 3", "\tret", "\t.cfi_endproc", ".LFE0:",
            f"\t.size\tf{i}, .-f{i}", "\t.p2align 4,,11",
        ]
    text = "\n".join(doc_lines)
    parse(text)  # warm caches
    start = time.process_time()
    doc = parse(text)
    elapsed = time.process_time() - start
    assert len(doc.functions) == 1000
    assert elapsed < 0.5, f"parse of 20k lines took {elapsed * 1000:.0f} ms"
