"""Macros in the pure syntax model: `.macro`/`#define` definitions, blocks, and the
functions that macro invocations define (FFmpeg `function`, Linux `SYM_FUNC_START`,
glibc `ENTRY`, libjpeg-turbo `asm_function`).

Test data: tests/fixtures/handwritten/ (small excerpts written for these tests in each
project's style; ffstyle/libutil/aarch64/asm.S holds the shared macros of ffstyle/).
"""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

from asm_lsp.syntax import (
    Block,
    Function,
    FunctionRole,
    LabelDef,
    Macro,
    MacroParam,
    macro_roles,
    parse,
    split_functions,
)
from asm_lsp.syntax import parser as parser_module

HW = ROOT / "tests" / "fixtures" / "handwritten"
ASM_S = (HW / "ffstyle" / "libutil" / "aarch64" / "asm.S").read_text()
BLEND = (HW / "ffstyle" / "libcodec" / "aarch64" / "blend_neon.S").read_text()


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setattr(parser_module, "STRICT", True)  # a bug fails the test instead of degrading


def outline(doc) -> list[tuple[str, int, int, int]]:
    return [(f.name, f.start_line, f.end_line, f.label_line) for f in doc.functions]


def test_asm_s_macros_and_roles() -> None:
    doc = parse(ASM_S)
    assert [(m.name, m.kind, m.line, m.end_line) for m in doc.macros] == [
        ("ELF", "define", 5, 5), ("ELF", "define", 7, 7), ("GLUE", "define", 10, 10), ("EXTERN_ASM", "define", 11, 11),
        ("function", "macro", 13, 28), ("endfunc", "macro", 14, 17), ("const", "macro", 30, 34),
        ("endconst", "macro", 36, 38), ("movrel", "macro", 40, 43),
    ]
    function = doc.macros[4]
    assert function == Macro(
        "function", 13, 8, 16, "macro",
        [MacroParam("name"), MacroParam("export", "0"), MacroParam("align", "2")], 28,
        role=FunctionRole("start", ["name", "export", "align"], {"export": "0", "align": "2"}, "\\name", "export"),
    )
    assert function.signature() == ".macro function name, export=0, align=2"
    assert doc.macros[2].signature() == "#define GLUE(a, b) a ## b"
    assert doc.macros[7].role is None and doc.macros[8].role is None
    assert macro_roles(doc) == {
        "function": function.role,
        "endfunc": FunctionRole("end", [], {}, "", None),
        "const": FunctionRole("data", ["name", "align", "relocate"], {"align": "2", "relocate": "0"}, "\\name", None),
    }
    assert doc.functions == [] and doc.globals == set() and doc.refs == []
    assert doc.blocks == [Block(".macro", 13, 28), Block(".macro", 14, 17), Block(".if", 20, 27),
                          Block(".macro", 30, 34), Block(".macro", 36, 38), Block(".macro", 40, 43)]
    # macros are definitions: definition/references/workspace symbols find them
    assert doc.definitions("movrel") == [LabelDef("movrel", 40, 8, 14, "symbol", None, ".macro")]
    assert doc.definitions("EXTERN_ASM") == [LabelDef("EXTERN_ASM", 11, 8, 18, "symbol", None, "#define")]


def test_ffmpeg_style_functions_with_the_included_macros() -> None:
    doc = parse(BLEND, macro_roles(parse(ASM_S)))
    assert outline(doc) == [
        ("blend_rows_neon", 17, 24, 17),  # function … endfunc
        ("blend_helper", 26, 29, 26),
        ("avg_8bpc_neon", 38, 38, 38),  # blend_fn invokes `function \type\()_\bits\()bpc_neon` and endfunc
        ("w_avg_10bpc_neon", 39, 39, 39),
        ("blend_tail_neon", 41, 44, 41),
    ]
    assert {f.kind for f in doc.functions} == {"macro"}
    assert doc.globals == {"blend_rows_neon", "avg_8bpc_neon", "w_avg_10bpc_neon", "blend_tail_neon"}  # export=1
    assert [(d.name, d.line, d.start, d.end, d.kind, d.defined_by) for d in doc.labels if d.kind != "numeric"] == [
        ("BLEND_SHIFT", 2, 8, 19, "symbol", "#define"),
        ("load_rows", 4, 8, 17, "symbol", ".macro"),
        ("blend_weights", 13, 8, 21, "symbol", "const"),  # a data symbol, not a function
        ("blend_rows_neon", 17, 9, 24, "global", "function"),
        ("blend_helper", 26, 9, 21, "symbol", "function"),
        ("blend_fn", 31, 8, 16, "symbol", ".macro"),
        ("avg_8bpc_neon", 38, 9, 12, "global", "blend_fn"),  # the name's span is the argument's
        ("w_avg_10bpc_neon", 39, 9, 14, "global", "blend_fn"),
        ("blend_tail_neon", 41, 9, 24, "global", "function"),
    ]
    # `export` of export=1, the function names themselves, `\params`: no refs
    assert [(r.name, r.line) for r in doc.refs] == [
        ("blend_weights", 18), ("BLEND_SHIFT", 21), ("1", 22), ("BLEND_SHIFT", 27), ("blend_helper", 34),
        ("blend_rows_neon", 42),
    ]
    load_rows = doc.macros[1]
    assert load_rows.params == [MacroParam("dst", required=True), MacroParam("src", required=True),
                                MacroParam("n", "4"), MacroParam("rest", vararg=True)]
    assert [(b.kind, b.start_line, b.end_line) for b in doc.blocks] == [
        (".macro", 4, 11), (".irp", 5, 7), (".rept", 8, 10), (".macro", 31, 36)]


def test_ffmpeg_style_without_asm_s_uses_the_conventions() -> None:
    """asm.S not in view: `function`/`endfunc` come from CONVENTIONS; `const` stays unknown."""
    doc = parse(BLEND)
    assert outline(doc) == outline(parse(BLEND, macro_roles(parse(ASM_S))))
    assert "blend_weights" not in {d.name for d in doc.labels}


def test_linux_style() -> None:
    doc = parse((HW / "linux_style.S").read_text())
    assert [(f.name, f.start_line, f.end_line, f.kind) for f in doc.functions] == [
        ("copy_words", 5, 12, "macro"), ("__zero_words", 14, 17, "macro"),
        ("vector_entry", 19, 22, "macro"), ("old_style", 24, 26, "macro")]
    assert doc.globals == {"copy_words", "vector_entry", "old_style"}  # SYM_FUNC_START_LOCAL is not global
    assert [(label.name, label.line) for label in doc.functions[0].local_labels] == [("1", 7), ("2", 11)]
    assert doc.definitions("copy_words") == [LabelDef("copy_words", 5, 15, 25, "global", "copy_words", "SYM_FUNC_START")]
    assert [(r.name, r.line) for r in doc.refs if not r.numeric] == [
        ("copy_words", 12), ("__zero_words", 17), ("__zero_words", 20), ("copy_words", 21), ("vector_entry", 22),
        ("old_style", 26)]


def test_glibc_style_and_defines() -> None:
    doc = parse((HW / "glibc_style.S").read_text())
    assert outline(doc) == [("string_copy", 7, 14, 7), ("string_len", 17, 20, 17)]
    assert [m.signature() for m in doc.macros] == ["#define dstin x0", "#define src x1", "#define count x2"]
    assert doc.definitions("count")[0].defined_by == "#define"


def test_jpeg_style_ends_before_the_next_macro_definition() -> None:
    doc = parse((HW / "jpeg_style.S").read_text())
    assert outline(doc) == [("idct_islow", 19, 21, 19), ("idct_fast", 27, 29, 27)]
    assert doc.macros[0].role == FunctionRole("start", ["fname"], {}, "\\fname", "")
    assert doc.globals == {"idct_islow", "idct_fast"}  # `.globl _\fname` is no global name


def test_multi_line_define_is_not_assembly() -> None:
    text = "#define ENTRY2(name) \\\n  .globl name; \\\n  .type name, %function; \\\n  name:\n\nENTRY2(bar)\n  ret\n"
    doc = parse(text)
    assert doc.macros[0].value == ".globl name; .type name, %function; name:"
    assert doc.macros[0].role == FunctionRole("start", ["name"], {}, "\\name", "")
    assert outline(doc) == [("bar", 5, 6, 5)]  # no function `name` from the continuation lines
    assert doc.globals == {"bar"} and doc.blocks == [Block("#define", 0, 3)]


def test_split_functions_sees_macro_functions() -> None:
    pieces = split_functions((HW / "linux_style.S").read_text())
    assert [p.name for p in pieces] == ["copy_words", "__zero_words", "vector_entry", "old_style"]
    assert pieces[0].text.splitlines()[0] == "SYM_FUNC_START(copy_words)"
    assert pieces[0].text.splitlines()[-1] == "SYM_FUNC_END(copy_words)"


def test_invocations_inside_a_macro_body_are_not_functions() -> None:
    text = ".macro wrap n\nfunction \\n\\()_x\n ret\nendfunc\n.endm\nfunction \\oops\n ret\nendfunc\n"
    doc = parse(text)
    assert outline(doc) == []  # `\oops` outside a body is no name either


def test_unterminated_macro_and_odd_input_never_raise() -> None:
    for text in [".macro", ".macro m a=, :req,, b:vararg=", ".macro x\n.irp\n.endr\n.endr\n.endm\n.endm",
                 "#define", "#define F(", "#define G(a \\", "function", "function ,", "SYM_FUNC_START(",
                 "ENTRY()", "endfunc\nendfunc", ".endm", ".if\n.macro m\n.endif", "function a b c d e f=g, =, x="]:
        doc = parse(text)
        assert doc.lines == text.split("\n")


def test_generated_names_missing_args_and_several_functions_per_expansion() -> None:
    """A parameter without argument expands to nothing (SUM_FUNC's `\\name`); one expansion
    may define several functions, also through two levels (AVG_ALL -> AVG_FNS -> function)."""
    doc = parse((HW / "x264_style.S").read_text())
    assert outline(doc) == [
        ("pixel_sum_4x4_neon", 10, 10, 10), ("pixel_sum_fast_8x8_neon", 11, 11, 11),
        ("avg_w4_add_neon", 27, 27, 27), ("avg_w4_sub_neon", 27, 27, 27),
        ("avg_w8_add_neon", 27, 27, 27), ("avg_w8_sub_neon", 27, 27, 27),
        ("uses_loop", 38, 41, 38),
        ("plain_entry", 43, 43, 43),  # a label-only macro invoked outside functions makes one
    ]
    # ... but invoked inside a function it makes a label of that function (dav1d's L(loop_\\ox\\oy):)
    assert doc.definitions("loop_4") == [LabelDef("loop_4", 39, 11, 12, "symbol", "uses_loop", "LOOP_LABEL")]
    assert next(m for m in doc.macros if m.name == "LOOP_LABEL").role.kind == "label"
    avg_all = next(m for m in doc.macros if m.name == "AVG_ALL")
    assert [avg_all.role.template, *avg_all.role.more] == [
        "avg_w4_add_neon", "avg_w8_add_neon", "avg_w4_sub_neon", "avg_w8_sub_neon"]
    assert doc.globals == {"pixel_sum_4x4_neon", "pixel_sum_fast_8x8_neon", "uses_loop"}


def test_an_empty_argument_keeps_its_place() -> None:
    """dav1d's `warp  , 11`: the first argument is empty, `11` is the second."""
    text = ".macro warp t, shift\nfunction warp_8x8\\t\\()_neon, export=1\n ret\nendfunc\n.endm\nwarp  , 11\nwarp t, 7\n"
    doc = parse(text)
    assert outline(doc) == [("warp_8x8_neon", 5, 5, 5), ("warp_8x8t_neon", 6, 6, 6)]
    assert doc.definitions("warp_8x8_neon") == [LabelDef("warp_8x8_neon", 5, 0, 4, "global", "warp_8x8_neon", "warp")]
