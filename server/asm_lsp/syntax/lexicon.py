"""Words of AArch64 operands that are not symbols: registers, conditions, shifts."""

from __future__ import annotations

import re

REGISTER_PATTERN = (
    r"(?:[xw](?:[12]?\d|30)|[vqdshbz](?:[12]?\d|3[01])|p(?:1[0-5]|\d)|pn(?:1[0-5]|\d)"
    r"|sp|wsp|xzr|wzr|fp|lr|ip[01]|za(?:\d+[hv]?)?|zt0|nzcv|fpcr|fpsr)"
    r"(?:\.[\w]*)?"  # arrangement / element size: v0.4s, z1.d, v1.s
)
_REGISTER = re.compile(REGISTER_PATTERN, re.IGNORECASE)

CONDITIONS = frozenset(
    "eq ne cs hs cc lo mi pl vs vc hi ls ge lt gt le al nv".split()
)
SHIFTS_EXTENDS = frozenset(
    "lsl lsr asr ror msl uxtb uxth uxtw uxtx sxtb sxth sxtw sxtx".split()
)
# SVE multipliers and predicate patterns, `bti` targets.
_OTHER_KEYWORDS = frozenset(
    "mul vl all pow2 mul3 mul4 vl1 vl2 vl3 vl4 vl5 vl6 vl7 vl8 vl16 vl32 vl64 vl128 vl256".split()
)
PREFETCH_PATTERN = r"p(?:ld|li|st)l[123](?:keep|strm)"
_PREFETCH = re.compile(PREFETCH_PATTERN, re.IGNORECASE)

# Their label operand is a symbol even when it reads like a keyword (`bl eq`).
BRANCH_MNEMONICS = frozenset(
    ["b", "bl", "cbz", "cbnz", "tbz", "tbnz", "adr", "adrp"]
    + [prefix + cond for cond in CONDITIONS for prefix in ("b.", "bc.", "b")]
)

KEYWORDS = CONDITIONS | SHIFTS_EXTENDS | _OTHER_KEYWORDS

# Instructions whose operands name system registers, barriers or TLB ops, never symbols.
NO_SYMBOL_MNEMONICS = frozenset(
    "mrs msr dmb dsb isb sys sysl tlbi dc ic at hint bti ssbb pssbb sb csdb clrex svc "
    "hvc smc brk hlt tsb psb gcsb nop ret br blr retaa retab".split()
)

# Directives whose operands hold no symbol references (or only in strings/flags).
NO_SYMBOL_DIRECTIVES = frozenset(
    ".section .pushsection .popsection .previous .file .loc .loc_mark_labels .ident "
    ".arch .arch_extension .cpu .macro .irp .irpc .include .incbin .ascii .asciz "
    ".string .string8 .string16 .print .error .err .warning .altmacro .noaltmacro "
    ".purgem .text .data .bss .rodata .title .sbttl .psize .list .nolist".split()
)

# Directives that define the symbol named by their first operand.
SYMBOL_DEFINING_DIRECTIVES = frozenset(".set .equ .equiv .eqv .comm .lcomm".split())

_cache: dict[str, str] = {}


def word_class(word: str) -> str:
    """Classify an operand word: ``"register"``, ``"keyword"`` or ``"symbol"``."""
    kind = _cache.get(word)
    if kind is None:
        if _REGISTER.fullmatch(word):
            kind = "register"
        elif word.lower() in KEYWORDS or _PREFETCH.fullmatch(word):
            kind = "keyword"
        else:
            kind = "symbol"
        if len(_cache) > 100_000:  # random text must not grow it forever
            _cache.clear()
        _cache[word] = kind
    return kind


def is_register(word: str) -> bool:
    return word_class(word) == "register"
