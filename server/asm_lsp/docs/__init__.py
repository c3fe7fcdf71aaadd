"""AArch64 reference data for hover and completion: mnemonics, registers, directives.

Pure data and lookups (no pygls, no llama_cpp). The data lives in compact tuples in the
sibling modules; this module merges them into frozen dataclasses once, at import.

Merge rule: a mnemonic listed in several modules (``add`` is base and Advanced SIMD) becomes
one entry: the first module's summary and group, every module's forms, and the other
modules' summaries appended to ``extra``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import directives as _directives
from . import mnemonics_base, mnemonics_fp, mnemonics_mem, mnemonics_simd
from . import registers as _regs

__all__ = [
    "MnemonicDoc", "RegisterDoc", "DirectiveDoc",
    "lookup_mnemonic", "lookup_register", "lookup_directive",
    "all_mnemonics", "all_registers", "all_directives",
    "format_mnemonic_markdown", "format_register_markdown", "format_directive_markdown",
]


@dataclass(frozen=True)
class MnemonicDoc:
    name: str  # lower case, e.g. "add", "b.cond", "b.eq"
    summary: str
    forms: tuple[str, ...]
    group: str  # "base" | "fp" | "simd"
    extra: str = ""


@dataclass(frozen=True)
class RegisterDoc:
    name: str
    summary: str


@dataclass(frozen=True)
class DirectiveDoc:
    name: str  # with the dot, lower case
    summary: str
    forms: tuple[str, ...]


_GROUP_TITLES = {"base": "A64 base", "fp": "floating point", "simd": "Advanced SIMD"}


def _build_mnemonics() -> dict[str, MnemonicDoc]:
    merged: dict[str, MnemonicDoc] = {}
    for module in (mnemonics_base, mnemonics_mem, mnemonics_fp, mnemonics_simd):
        for entry in module.MNEMONICS:
            name, summary, forms = entry[:3]
            extra = entry[3] if len(entry) > 3 else ""
            old = merged.get(name)
            if old is None:
                merged[name] = MnemonicDoc(name, summary, tuple(forms), module.GROUP, extra)
                continue
            note = f"{_GROUP_TITLES[module.GROUP]}: {summary}" + (f" {extra}" if extra else "")
            merged[name] = MnemonicDoc(
                name, old.summary, old.forms + tuple(f for f in forms if f not in old.forms), old.group,
                f"{old.extra}\n\n{note}" if old.extra else note,
            )
    return merged


_MNEMONICS = _build_mnemonics()
_DIRECTIVES = {name: DirectiveDoc(name, summary, tuple(forms)) for name, summary, forms in _directives.DIRECTIVES}
_CONDITIONS = {name: (meaning, flags) for name, meaning, flags in _regs.CONDITIONS}
_NAMED_REGS = {name: summary for name, summary in _regs.SPECIAL + _regs.SYSTEM}
_ARRANGEMENTS = dict(_regs.ARRANGEMENTS)
_ELEMENTS = dict(_regs.ELEMENT_SIZES)
_VIEWS = {prefix: (bits, words) for prefix, bits, words in _regs.VREG_VIEWS}

_COND_BRANCH = re.compile(r"(bc)\.([a-z]{2})|(b)\.?([a-z]{2})")
_GPR = re.compile(r"([xw])(\d{1,2})")
_VREG = re.compile(r"([vqdshb])(\d{1,2})(?:\.(\w+))?(?:\[(\d+)\])?")
_SVE = re.compile(r"([zp])(\d{1,2})(?:\.([bhsdq]))?")


def lookup_mnemonic(name: str) -> MnemonicDoc | None:
    """Doc for a mnemonic, case-insensitive. ``b.eq`` and GCC's ``beq`` give B.cond with the condition."""
    key = name.strip().lower()
    doc = _MNEMONICS.get(key)
    if doc is not None:
        return doc
    m = _COND_BRANCH.fullmatch(key)
    if m is None:
        return None
    base, cond = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    if cond not in _CONDITIONS:
        return None
    meaning, flags = _CONDITIONS[cond]
    generic = _MNEMONICS[f"{base}.cond"]
    return MnemonicDoc(
        key, f"Branch if {meaning} ({cond.upper()}: {flags}).",
        (f"{base.upper()}.{cond.upper()} label",), generic.group, generic.summary,
    )


def _vreg_role(n: int) -> str:
    return next(role for lo, hi, role in _regs.VREG_ROLES if lo <= n <= hi)


def _lookup_vector(m: re.Match[str]) -> RegisterDoc | None:
    prefix, num, arrangement, index = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    if num > 31 or (prefix != "v" and (arrangement or index)):
        return None
    bits, words = _VIEWS[prefix]
    text = f"{words} {num}" if prefix == "v" else f"{words} V{num}"
    parts = [f"{text} ({bits} bits); {_vreg_role(num)}."]
    if arrangement is not None:
        if arrangement in _ARRANGEMENTS:
            parts.append(f"Arrangement .{arrangement.upper()}: {_ARRANGEMENTS[arrangement]}.")
        elif arrangement in _ELEMENTS and index is not None:
            parts.append(f"Element size .{arrangement.upper()}: {_ELEMENTS[arrangement]}.")
        else:
            return None
    if index is not None:
        parts.append(f"Lane index {index}.")
    return RegisterDoc(m.group(0), " ".join(parts))


def lookup_register(name: str) -> RegisterDoc | None:
    """Doc for a register, register view, system register or condition code, case-insensitive."""
    key = name.strip().lower()
    if key in _NAMED_REGS:
        return RegisterDoc(key, _NAMED_REGS[key])
    if key in _CONDITIONS:
        meaning, flags = _CONDITIONS[key]
        return RegisterDoc(key, f"Condition code {key.upper()}: {meaning}; true when {flags}.")
    m = _GPR.fullmatch(key)
    if m is not None:
        num = int(m.group(2))
        if num > 30:
            return None
        role = next(role for lo, hi, role in _regs.GPR_ROLES if lo <= num <= hi)
        if m.group(1) == "x":
            return RegisterDoc(key, f"64-bit general register {num}: {role}.")
        return RegisterDoc(key, f"Low 32 bits of X{num} (writing it zeroes the upper 32 bits); X{num} is the {role}.")
    m = _VREG.fullmatch(key)
    if m is not None:
        return _lookup_vector(m)
    m = _SVE.fullmatch(key)
    if m is not None and int(m.group(2)) <= (31 if m.group(1) == "z" else 15):
        what = "SVE scalable vector register; its low 128 bits are V" if m.group(1) == "z" else "SVE predicate register "
        return RegisterDoc(key, f"{what}{m.group(2)}.")
    return None


def lookup_directive(name: str) -> DirectiveDoc | None:
    """Doc for a directive given with its dot, case-insensitive."""
    return _DIRECTIVES.get(name.strip().lower())


def all_mnemonics() -> list[MnemonicDoc]:
    return sorted(_MNEMONICS.values(), key=lambda d: d.name)


def all_registers() -> list[str]:
    """Plain register names for completion: general, special, SIMD&FP views, common system registers."""
    names = [f"x{n}" for n in range(31)] + [f"w{n}" for n in range(31)]
    names += [name for name, _ in _regs.SPECIAL if name != "pc"]
    names += [f"{prefix}{n}" for prefix, _, _ in _regs.VREG_VIEWS for n in range(32)]
    names += [name for name, _ in _regs.SYSTEM]
    return names


def all_directives() -> list[DirectiveDoc]:
    return sorted(_DIRECTIVES.values(), key=lambda d: d.name)


def _display_name(name: str) -> str:
    return name.upper().replace(".COND", ".cond")


def _forms_block(forms: tuple[str, ...]) -> str:
    return "```asm\n" + "\n".join(forms) + "\n```" if forms else ""


def format_mnemonic_markdown(doc: MnemonicDoc) -> str:
    parts = [f"**{_display_name(doc.name)}** — {doc.summary}", _forms_block(doc.forms), doc.extra,
             f"*{_GROUP_TITLES.get(doc.group, doc.group)}*"]
    return "\n\n".join(p for p in parts if p)


def format_register_markdown(doc: RegisterDoc) -> str:
    return f"**{doc.name}** — {doc.summary}"


def format_directive_markdown(doc: DirectiveDoc) -> str:
    return "\n\n".join(p for p in (f"**{doc.name}** — {doc.summary}", _forms_block(doc.forms)) if p)
