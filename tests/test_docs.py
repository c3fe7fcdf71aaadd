"""Reference data coverage and lookups for ``asm_lsp.docs``.

Test data: tests/fixtures/docs_c/*.c, compiled to assembly with aarch64-linux-gnu-gcc and
clang at -O0..-O3 and -Os (plus LSE builds). Every mnemonic and directive the compilers
emit must have docs; the failure message lists the missing ones.
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.common import COMPILERS
from asm_lsp.docs import (
    DirectiveDoc, MnemonicDoc, RegisterDoc, all_directives, all_mnemonics, all_registers,
    format_directive_markdown, format_mnemonic_markdown, format_register_markdown,
    lookup_directive, lookup_mnemonic, lookup_register,
)

FIXTURES = Path(__file__).parent / "fixtures" / "docs_c"
GCC = tuple(COMPILERS["gcc"])
CLANG = tuple(COMPILERS["clang"])
LEVELS = ("-O0", "-O1", "-O2", "-O3", "-Os")
# (label, command prefix). LSE builds: GCC defaults to out-of-line atomics calls, so
# -march is what makes CAS/LDADD/SWP appear inline.
COMPILERS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (f"gcc{o}", (*GCC, o)) for o in LEVELS
) + tuple(
    (f"clang{o}", (*CLANG, o)) for o in LEVELS
) + (
    ("gcc-lse", (*GCC, "-O2", "-march=armv8.2-a+lse")),
    ("clang-lse", (*CLANG, "-O2", "-march=armv8.1-a")),
    # Debug info (.loc, .uleb128), PIC/TLS descriptors, and return-address signing (PAC/BTI).
    ("gcc-g-pic-pac", (*GCC, "-O2", "-g", "-fPIC", "-mbranch-protection=standard")),
    ("clang-g-pic-pac", (*CLANG, "-O2", "-g", "-fPIC", "-mbranch-protection=standard")),
)

# First token of a statement after any `label:` prefixes; the lookahead keeps `.L2:` a label.
_STATEMENT = re.compile(r"^\s*(?:[\w.$]+:\s*)*([.\w$]+)(?![\w.$:])")


def extract_names(asm: str) -> tuple[set[str], set[str]]:
    """(mnemonics, directives) used in compiler assembly output, lower-cased."""
    mnemonics: set[str] = set()
    directives: set[str] = set()
    for line in asm.splitlines():
        code = line.split("//", 1)[0]
        if code.lstrip().startswith("#"):
            continue
        m = _STATEMENT.match(code)
        if m:
            name = m.group(1).lower()
            (directives if name.startswith(".") else mnemonics).add(name)
    return mnemonics, directives


def undocumented(mnemonics: set[str], directives: set[str]) -> list[str]:
    missing = [m for m in sorted(mnemonics) if lookup_mnemonic(m) is None]
    return missing + [d for d in sorted(directives) if lookup_directive(d) is None]


def _compile(job: tuple[str, tuple[str, ...], Path, Path]) -> tuple[str, str]:
    label, command, source, out_dir = job
    out = out_dir / f"{source.stem}.{label}.s"
    proc = subprocess.run([*command, "-S", "-w", "-o", str(out), str(source)], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"{label} {source.name}", proc.stderr
    return f"{label} {source.name}", out.read_text()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Assembly text per '<compiler-config> <file>' for every fixture and configuration."""
    out_dir = tmp_path_factory.mktemp("docs_asm")
    sources = sorted(FIXTURES.glob("*.c"))
    assert len(sources) >= 8, f"expected the C fixtures in {FIXTURES}"
    jobs = [(label, command, src, out_dir) for src in sources for label, command in COMPILERS]
    with ThreadPoolExecutor(max_workers=2) as pool:  # shared 2-core machine
        results = dict(pool.map(_compile, jobs))
    failed = {k: v for k, v in results.items() if not v.lstrip().startswith(("\t.", ".", "//"))}
    assert not failed, f"compilation failed: {failed}"
    return results


@pytest.mark.compilers
def test_compiler_output_is_fully_documented(compiled: dict[str, str]) -> None:
    mnemonics: set[str] = set()
    directives: set[str] = set()
    for asm in compiled.values():
        m, d = extract_names(asm)
        mnemonics |= m
        directives |= d
    # Guard against a broken extractor making this test pass vacuously.
    assert len(mnemonics) > 150, sorted(mnemonics)
    expected = {"adrp", "ldp", "stp", "csel", "ubfx", "madd", "umulh", "fcvtzs", "scvtf", "fmadd", "ld2", "tbl",
                "uaddlv", "ldaxr", "stlxr", "casal", "ldaddal", "b.ne", "bne", "fmla", "cmhi", "xtn", "adcs", "hint"}
    assert expected <= mnemonics, f"fixtures no longer produce: {sorted(expected - mnemonics)}"
    assert {".cfi_startproc", ".p2align", ".type", ".size", ".section", ".loc", ".cfi_negate_ra_state"} <= directives
    missing = undocumented(mnemonics, directives)
    assert not missing, f"{len(missing)} names emitted by the compilers have no docs: {' '.join(missing)}"


def test_extractor_and_checker_report_unknown_names() -> None:
    asm = (".L2:\tldr x0, [x1]  // load\n"
           "foo: .L3: b.ne .L2\n"
           "\t.p2align 4,,15\n"
           "# gcc comment line\n"
           "\tfrobnicate x0, x1\n")
    mnemonics, directives = extract_names(asm)
    assert (mnemonics, directives) == ({"ldr", "b.ne", "frobnicate"}, {".p2align"})
    assert undocumented(mnemonics, directives | {".frob"}) == ["frobnicate", ".frob"]


# --- mnemonics ---------------------------------------------------------------------

def test_mnemonic_count_and_uniqueness() -> None:
    docs = all_mnemonics()
    assert len(docs) >= 350
    assert len({d.name for d in docs}) == len(docs)
    assert all(d.summary and d.forms and d.group in {"base", "fp", "simd"} for d in docs)


def test_mnemonic_lookup_is_case_insensitive() -> None:
    assert lookup_mnemonic("LDR") == lookup_mnemonic("ldr") == lookup_mnemonic(" Ldr ")
    assert lookup_mnemonic("ldr") is not None


def test_condition_suffix_branch() -> None:
    assert lookup_mnemonic("b.eq") == MnemonicDoc(
        name="b.eq", summary="Branch if equal (EQ: Z == 1).", forms=("B.EQ label",), group="base",
        extra="Branch to a label (+/-1 MiB) if the condition holds on the NZCV flags.",
    )
    # GCC prints conditional branches without the dot.
    bcc = lookup_mnemonic("BCC")
    assert bcc is not None and "C == 0" in bcc.summary
    assert lookup_mnemonic("b.hi").summary == "Branch if unsigned higher (HI: C == 1 && Z == 0)."
    assert lookup_mnemonic("bc.ge").forms == ("BC.GE label",)


def test_real_mnemonics_starting_with_b_are_not_conditions() -> None:
    assert lookup_mnemonic("bl").summary.startswith("Branch with link")
    assert lookup_mnemonic("bic").summary.startswith("Bit clear")
    assert lookup_mnemonic("bit").group == "simd"


def test_aliases_are_their_own_entries() -> None:
    for name in ("mov", "cmp", "cmn", "tst", "lsl", "lsr", "asr", "neg", "mul", "mneg", "cset", "csetm", "cinc",
                 "cneg", "sxtw", "uxtb", "ubfx", "sbfiz", "bfi", "mvn", "smull", "stadd", "stlr", "uxtl", "sxtl"):
        doc = lookup_mnemonic(name)
        assert doc is not None and doc.name == name, name
    assert "CSINC" in lookup_mnemonic("cset").extra


def test_shared_mnemonic_merges_base_and_vector_forms() -> None:
    add = lookup_mnemonic("add")
    assert add.group == "base"
    assert "ADD Xd|SP, Xn|SP, #imm{, LSL #12}" in add.forms
    assert "ADD Vd.<T>, Vn.<T>, Vm.<T>" in add.forms
    assert add.extra.startswith("Advanced SIMD:")


def test_unknown_mnemonic() -> None:
    for name in ("frobnicate", "b.xx", "bx", "beqq", "", ".text", "x0"):
        assert lookup_mnemonic(name) is None, name


def test_format_mnemonic_markdown() -> None:
    assert format_mnemonic_markdown(lookup_mnemonic("udiv")) == (
        "**UDIV** — Unsigned divide; division by zero gives 0.\n\n"
        "```asm\nUDIV Xd, Xn, Xm\nUDIV Wd, Wn, Wm\n```\n\n*A64 base*"
    )


# --- registers ---------------------------------------------------------------------

@pytest.mark.parametrize(("name", "words"), [
    ("x0", "result"), ("x7", "argument"), ("x8", "indirect result"), ("x9", "caller-saved"),
    ("x16", "IP0"), ("x17", "IP1"), ("x18", "platform"), ("x19", "callee-saved"), ("x28", "callee-saved"),
    ("x29", "frame pointer"), ("x30", "link register"), ("w8", "indirect result"), ("fp", "X29"), ("lr", "X30"),
    ("sp", "16-byte aligned"), ("wsp", "stack pointer"), ("xzr", "zero"), ("wzr", "zero"),
    ("v0", "argument and result"), ("v8", "low 64 bits"), ("d15", "callee-saved"), ("v16", "caller-saved"),
    ("q3", "128-bit"), ("s4", "32-bit"), ("h5", "16-bit"), ("b6", "8-bit"),
    ("nzcv", "N (negative)"), ("fpcr", "rounding"), ("fpsr", "exception flags"), ("tpidr_el0", "thread-local"),
])
def test_register_roles(name: str, words: str) -> None:
    doc = lookup_register(name)
    assert doc is not None and words in doc.summary, (name, doc)
    assert lookup_register(name.upper()) == doc


def test_vector_arrangements_and_lanes() -> None:
    assert lookup_register("v0.4s") == RegisterDoc(
        "v0.4s", "SIMD&FP vector register 0 (128 bits); FP/SIMD argument and result register; caller-saved. "
                 "Arrangement .4S: 4 words (128-bit).")
    assert "Element size .S: 32-bit word. Lane index 2." in lookup_register("v1.s[2]").summary
    assert "16 bytes" in lookup_register("V2.16B").summary
    assert "Lane index 1" in lookup_register("v31.4s[1]").summary
    assert "callee-saved in its low 64 bits" in lookup_register("v9.2d").summary


@pytest.mark.parametrize(("cond", "flags"), [
    ("eq", "Z == 1"), ("ne", "Z == 0"), ("cs", "C == 1"), ("hs", "C == 1"), ("cc", "C == 0"), ("lo", "C == 0"),
    ("mi", "N == 1"), ("pl", "N == 0"), ("vs", "V == 1"), ("vc", "V == 0"), ("hi", "C == 1 && Z == 0"),
    ("ls", "C == 0 || Z == 1"), ("ge", "N == V"), ("lt", "N != V"), ("gt", "Z == 0 && N == V"),
    ("le", "Z == 1 || N != V"), ("al", "any flags"), ("nv", "any flags"),
])
def test_condition_codes(cond: str, flags: str) -> None:
    assert lookup_register(cond).summary.endswith(f"true when {flags}.")


def test_unknown_registers() -> None:
    for name in ("x31", "w31", "v32", "q32", "v0.3s", "s1.4s", "v0.d", "x0.4s", "foo", "", "p16"):
        assert lookup_register(name) is None, name


def test_all_registers_for_completion() -> None:
    names = all_registers()
    assert len(names) == len(set(names))
    for expected in ("x0", "x30", "w0", "w30", "sp", "wsp", "xzr", "wzr", "fp", "lr", "v0", "v31", "q0", "d31",
                     "s7", "h1", "b2", "nzcv", "tpidr_el0"):
        assert expected in names, expected
    assert all(lookup_register(n) is not None for n in names)


def test_format_register_markdown() -> None:
    assert format_register_markdown(lookup_register("xzr")) == (
        "**xzr** — 64-bit zero register: reads as 0, writes are discarded (same encoding as SP in other contexts)."
    )


# --- directives --------------------------------------------------------------------

REQUIRED_DIRECTIVES = (
    ".text .data .bss .section .rodata .globl .global .local .weak .hidden .protected .type .size .align .p2align "
    ".balign .byte .hword .short .word .long .int .xword .quad .dword .ascii .asciz .string .zero .space .skip "
    ".fill .comm .lcomm .equ .set .equiv .macro .endm .rept .irp .endr .if .ifdef .ifndef .else .endif .include "
    ".arch .arch_extension .cpu .file .loc .ident .cfi_startproc .cfi_endproc .cfi_def_cfa .cfi_def_cfa_offset "
    ".cfi_offset .cfi_restore .cfi_remember_state .cfi_restore_state .cfi_negate_ra_state .pushsection "
    ".popsection .previous .ltorg .inst .reloc .uleb128 .sleb128 .addrsig .addrsig_sym .variant_pcs"
).split()


def test_required_directives_present() -> None:
    missing = [d for d in REQUIRED_DIRECTIVES if lookup_directive(d) is None]
    assert not missing, missing
    assert len(all_directives()) >= 100


def test_directive_lookup() -> None:
    assert lookup_directive(".GLOBL") == lookup_directive(".globl") == DirectiveDoc(
        ".globl", "Make a symbol visible to the linker (external linkage).", (".globl symbol",))
    assert lookup_directive("globl") is None
    assert lookup_directive(".frobnicate") is None


def test_format_directive_markdown() -> None:
    assert format_directive_markdown(lookup_directive(".p2align")) == (
        "**.p2align** — Align to 2^exponent bytes, optionally skipping only if it costs at most max bytes.\n\n"
        "```asm\n.p2align exponent{, fill{, max}}\n```"
    )
