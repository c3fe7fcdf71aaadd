"""The pure parts of semantic tokens, signature help and rename: syntax/semantic.py,
syntax/operands.py, docs/forms.py, syntax/rename.py. Plain pytest and hypothesis fuzzing
in the style of tests/test_syntax_fuzz.py (never raise; positions inside the text).

Test data: small texts written here; random text from hypothesis.
"""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]

from asm_lsp.docs.forms import form_operands
from asm_lsp.syntax import parse
from asm_lsp.syntax import semantic
from asm_lsp.syntax.operands import OperandContext, operand_context
from asm_lsp.syntax.semantic import TOKEN_MODIFIERS, TOKEN_TYPES, semantic_tokens

# The pure layer swallows internal errors to protect the server; here they must fail the test.
semantic.STRICT = True

PIECES = [
    "\n", "\r\n", "\t", " ", ":", ";", ",", "[", "]", "{", "}", "(", ")", '"', "\\", "#", "//", "/*", "*/",
    "@", "%", "=", "!", "/", "-", ".L1", "1", "1b", "2f", "0b1", "0x1f", "x0", "v0.4s", "p0/z", "z1.d", "b.eq",
    "bl", "adrp", ":lo12:", "sym", ".globl", ".type", "f", "%function", ".size", ".-f", ".text", ".section",
    ".macro", ".endm", "\\arg", "ldr", "cbz", "csel", "eq", "lsl", "mrs", "dmb", "\x00", "é", "𝔸", "#include",
]
asm_text = st.one_of(st.lists(st.sampled_from(PIECES), max_size=80).map("".join), st.text(max_size=300))


def described(text: str) -> list[tuple[int, str, str, tuple[str, ...]]]:
    doc = parse(text)
    return [(line, doc.lines[line][a:b], TOKEN_TYPES[t], tuple(m for i, m in enumerate(TOKEN_MODIFIERS) if mods >> i & 1))
            for line, a, b, t, mods in semantic_tokens(doc)]


def test_tokens_of_a_function():
    text = ("\t.globl\tf\n\t.type\tf, %function\nf:\tstp\tx29, x30, [sp, #-16]!\n"
            "1:\tsubs\tw0, w0, #1\n\tb.ne\t1b\n\tbl\tputs\n\tldp\tx29, x30, [sp], 16\n\tret\n")
    reg = ("variable", ("defaultLibrary",))
    assert described(text) == [
        (0, ".globl", "macro", ("defaultLibrary",)), (0, "f", "function", ()),
        (1, ".type", "macro", ("defaultLibrary",)), (1, "f", "function", ()), (1, "%function", "keyword", ()),
        (2, "f", "function", ("declaration",)), (2, "stp", "keyword", ()), (2, "x29", *reg), (2, "x30", *reg),
        (2, "sp", *reg), (2, "#-16", "number", ()),
        (3, "1", "label", ("declaration", "static")), (3, "subs", "keyword", ()), (3, "w0", *reg), (3, "w0", *reg),
        (3, "#1", "number", ()),
        (4, "b.ne", "keyword", ()), (4, "1b", "label", ("static",)),
        (5, "bl", "keyword", ()), (5, "puts", "function", ()),
        (6, "ldp", "keyword", ()), (6, "x29", *reg), (6, "x30", *reg), (6, "sp", *reg), (6, "16", "number", ()),
        (7, "ret", "keyword", ()),
    ]


def test_tokens_comments_strings_and_system_operands():
    text = ('/* a\n b */ .L1: mrs x0, tpidr_el0 // c\n\tdmb ish\n\t.ascii "x,y // no"\n'
            "\tldr x0, =.L1 /* in */ ; adr x1, data\n# 1 \"a.c\"\n#define N 1\ndata: .word 0x10, .L1 - .\n")
    assert described(text) == [
        (0, "/* a", "comment", ()), (1, " b */", "comment", ()),
        (1, ".L1", "label", ("declaration", "static")), (1, "mrs", "keyword", ()),
        (1, "x0", "variable", ("defaultLibrary",)), (1, "tpidr_el0", "variable", ("defaultLibrary",)),
        (1, "// c", "comment", ()),
        (2, "dmb", "keyword", ()), (2, "ish", "enumMember", ("defaultLibrary",)),
        (3, ".ascii", "macro", ("defaultLibrary",)), (3, '"x,y // no"', "string", ()),
        (4, "ldr", "keyword", ()), (4, "x0", "variable", ("defaultLibrary",)), (4, ".L1", "label", ("static",)),
        (4, "/* in */", "comment", ()), (4, "adr", "keyword", ()), (4, "x1", "variable", ("defaultLibrary",)),
        (4, "data", "variable", ("static",)),
        (5, '# 1 "a.c"', "comment", ()), (6, "#define", "macro", ()),
        (7, "data", "variable", ("declaration", "static")), (7, ".word", "macro", ("defaultLibrary",)),
        (7, "0x10", "number", ()), (7, ".L1", "label", ("static",)),
    ]


def test_range_and_workspace_functions():
    text = "f:\n\tb g\n\tadrp x0, h\n\tadd x0, x0, :lo12:h\n"
    doc = parse(text)
    ranged = semantic_tokens(doc, 2, 2, is_function=lambda name: name == "h")
    assert [(doc.lines[l][a:b], TOKEN_TYPES[t]) for l, a, b, t, _ in ranged] == [
        ("adrp", "keyword"), ("x0", "variable"), ("h", "function")]
    assert semantic_tokens(doc, 5, 9) == [] and semantic_tokens(parse(""), 0, None) == []


def test_operand_context():
    assert operand_context("\tadd x0, x1, ", 13) == OperandContext("add", "instruction", 1, 4, 2, ("x0", "x1"))
    assert operand_context("\tstp x29, x30, [sp, #-16]!", 20) == OperandContext(
        "stp", "instruction", 1, 4, 2, ("x29", "x30"), "[sp, #-16]!")
    assert operand_context("\tadd", 4) is None and operand_context("\tadd x0 // a, b", 14) is None
    assert operand_context("f: .p2align 4,,", 15) == OperandContext(".p2align", "directive", 3, 11, 2, ("4", ""))
    assert operand_context("\tadd\tx0, x0, :lo12:values // v", 15) == OperandContext(
        "add", "instruction", 1, 4, 2, ("x0", "x0"), ":lo12:values")
    assert operand_context("\tmov x0, x1 ; b ", 16) == OperandContext("b", "instruction", 14, 15, 0, ())
    assert operand_context("", 0) is None and operand_context("\tadd x0", 99) is None


def test_form_operands():
    def texts(form: str) -> list[str]:
        return [form[a:b] for a, b in form_operands(form)]
    assert texts("ADD Xd|SP, Xn|SP, #imm{, LSL #12}") == ["Xd|SP", "Xn|SP", "#imm", "LSL #12"]
    assert texts("LDR Xt, [Xn|SP{, #imm}]") == ["Xt", "[Xn|SP{, #imm}]"]
    assert texts("LD2 {Vt.<T>-Vt+1.<T>}, [Xn|SP], Xm") == ["{Vt.<T>-Vt+1.<T>}", "[Xn|SP]", "Xm"]
    assert texts(".p2align n{, fill{, max}}") == ["n", "fill", "max"]
    assert texts("NOP") == [] and texts("RET {Xn}") == ["{Xn}"]


def _check(text: str) -> None:
    doc = parse(text)
    semantic._LINE_CACHE.clear()
    tokens = semantic_tokens(doc)
    assert semantic_tokens(doc) == tokens, "the line cache changed the answer"
    previous = (-1, -1)
    for line, start, end, token_type, modifiers in tokens:
        assert 0 <= line < len(doc.lines) and 0 <= start < end <= len(doc.lines[line])
        assert (line, start) >= previous, "tokens out of order or overlapping"
        previous = (line, end)
        assert 0 <= token_type < len(TOKEN_TYPES) and 0 <= modifiers < 1 << len(TOKEN_MODIFIERS)
    for first in range(0, len(doc.lines), 7):
        ranged = semantic_tokens(doc, first, first + 3)
        assert ranged == [t for t in tokens if first <= t[0] <= first + 3]
    for line in doc.lines[:10]:
        for col in range(0, len(line) + 2, 2):
            context = operand_context(line, col)
            assert context is None or 0 <= context.index <= line.count(",")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(asm_text)
def test_never_raises_and_tokens_are_consistent(text: str) -> None:
    _check(text)


def test_errors_are_contained(monkeypatch):
    """An internal error gives the tokens found so far, not an exception."""
    def broken(self, *args):
        raise RuntimeError("boom")
    monkeypatch.setattr(semantic._Tokenizer, "statement", broken)
    monkeypatch.setattr(semantic, "STRICT", False)
    assert semantic_tokens(parse("\tadd x0, x1, x2 // c\n")) == []


def test_rename_name_rules():
    from asm_lsp.syntax.rename import name_problem
    assert name_problem("f", "g_2.x$") is None and name_problem(".L1", ".Lloop") is None
    assert name_problem("1", "42") is None
    assert name_problem("1", "x") == ("'x' is not a number: numeric label 1 (used as 1b/1f) "
                                      "can only be renamed to another number")
    assert name_problem("f", "12") == "'12' is a number: only numeric labels such as '1:' have numeric names"
    assert name_problem("f", "a b") is not None and name_problem("f", "é") is not None
    assert name_problem("f", "w30") is not None and name_problem("f", "lsl") is not None
    assert name_problem("f", ".") == "'.' is the location counter, not a symbol name"
    assert name_problem("f", ".Lf") is not None and name_problem(".Lf", "f") is not None


def test_rename_spans_and_numeric_checks():
    from asm_lsp.syntax.rename import Span, apply_spans, numeric_problem, numeric_spans, symbol_spans
    doc = parse("\t.globl f\nf:\tbl f ; b 1f\n1:\tb 1b\n\t.size f, .-f\n")
    assert symbol_spans(doc, "f") == [Span(0, 8, 9), Span(1, 0, 1), Span(1, 6, 7), Span(3, 7, 8), Span(3, 12, 13)]
    assert numeric_spans(doc, "1", 2) == [Span(1, 12, 13), Span(2, 0, 1), Span(2, 5, 6)]
    assert apply_spans(list(doc.lines), numeric_spans(doc, "1", 2), "10")[1:3] == ["f:\tbl f ; b 10f", "10:\tb 10b"]
    assert numeric_problem(doc, "1", 2, "10") is None
    clash = parse("2:\n1:\tnop\n\tb 2b\n")
    assert numeric_problem(clash, "1", 1, "2") == (
        "renaming 1 to 2 would change what '2b' on line 3 refers to; pick another number")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(asm_text, st.sampled_from(["1", "2", "10"]))
def test_numeric_rename_check_never_raises(text: str, new: str) -> None:
    from asm_lsp.syntax.rename import numeric_problem, numeric_spans
    doc = parse(text)
    for label in doc.labels[:5]:
        if label.kind == "numeric":
            numeric_spans(doc, label.name, label.line)
            problem = numeric_problem(doc, label.name, label.line, new)
            assert problem is None or "would change" in problem


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=60), st.integers(0, 60), st.integers(0, 8),
       st.lists(st.integers(0, 3), max_size=8))
def test_delta_edits_patch_old_into_new(old: list[int], at: int, cut: int, insert: list[int]) -> None:
    from asm_lsp.features.semantic_tokens import delta_edits
    new = old[:at] + insert + old[at + cut:]
    edits = delta_edits(old, new)
    assert (edits == []) == (old == new)
    for edit in edits:
        assert edit.start % 5 == 0
        assert old[: edit.start] + list(edit.data) + old[edit.start + edit.delete_count:] == new


def test_rename_refuses_a_name_not_written_where_it_is_defined():
    """A function whose name a macro builds (dav1d's `bidir_fn avg` -> avg_8bpc_neon) is
    defined at the argument `avg`: a rename cannot edit it there and says so."""
    import pytest
    from lsprotocol import types

    from asm_lsp.features.rename import RenameRefused, rename
    from asm_lsp.syntax import LabelDef
    from asm_lsp.workspace.index import WorkspaceIndex

    doc = parse("bidir_fn avg\ncaller:\n\tbl\tavg_8bpc_neon\n")
    doc.labels.append(LabelDef("avg_8bpc_neon", 0, 9, 12, "global", defined_by="bidir_fn"))  # as syntax/macros.py adds
    doc.globals.add("avg_8bpc_neon")
    index = WorkspaceIndex()
    index.put("file:///t.S", doc)
    with pytest.raises(RenameRefused) as refused:
        rename(index, "file:///t.S", doc, types.Position(line=2, character=5), "avg_neon")
    assert refused.value.message == ("'avg_8bpc_neon' is not written as such in t.S line 1 ('avg': a macro makes "
                                     "the name); rename it there by hand")
