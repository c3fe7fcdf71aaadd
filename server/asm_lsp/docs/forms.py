"""The operands of a reference form such as ``ADD Xd, Xn, Xm{, LSL|LSR|ASR #amount}``.

Pure. Used by signature help to highlight the operand being typed. Form notation (see
``mnemonics_base``): operands are separated by top-level commas; ``{, ...}`` holds
optional trailing operands (they may nest: ``.p2align n{, fill{, max}}``); ``[...]``
is one memory operand; ``{Vt.<T>, ...}`` not opened by a comma is one register list.
"""
from __future__ import annotations

import re

__all__ = ["form_operands", "operand_class", "form_operand_class"]


def form_operands(form: str) -> list[tuple[int, int]]:
    """The (start, end) character offsets of each operand of ``form`` (after its name)."""
    space = form.find(" ")
    if space < 0:
        return []
    spans: list[tuple[int, int]] = []
    start: int | None = space + 1
    depth = 0  # [ ] < > ( ) and { } that do not open optional operands
    i = space + 1
    n = len(form)

    def close(end: int) -> None:
        if start is None:
            return
        a, b = start, end
        while a < b and form[a] == " ":
            a += 1
        while b > a and form[b - 1] == " ":
            b -= 1
        if b > a:
            spans.append((a, b))

    while i < n:
        ch = form[i]
        if ch in "[<(":
            depth += 1
        elif ch in "]>)":
            depth = max(0, depth - 1)
        elif ch == "{":
            rest = form[i + 1 :].lstrip(" ")
            if depth == 0 and rest.startswith(","):  # optional operands follow
                close(i)
                i = form.index(",", i) + 1
                start = i
                continue
            depth += 1
        elif ch == "}":
            if depth > 0:
                depth -= 1
            else:  # the end of an optional group
                close(i)
                start = None
        elif ch == "," and depth == 0:
            close(i)
            start = i + 1
        i += 1
    close(n)
    return spans


_OPERAND_REGISTER = re.compile(r"([xwvqdshbzp])(\d{1,2}|zr)\b|(sp|wsp|xzr|wzr|lr|fp)\b", re.IGNORECASE)


def operand_class(text: str) -> str:
    """A rough class of a written operand: ``x w v q d s h b z p imm reloc mem list sym``."""
    text = text.strip()
    if not text:
        return ""
    first = text[0]
    if text.startswith((":", "#:")):
        return "reloc"
    if first in "#-" or first.isdigit():
        return "imm"
    if first == "[":
        return "mem"
    if first == "{":
        return "list"
    m = _OPERAND_REGISTER.match(text)
    if m is not None:
        if m.group(3):
            return {"sp": "x", "xzr": "x", "lr": "x", "fp": "x", "wsp": "w", "wzr": "w"}[m.group(3).lower()]
        kind = m.group(1).lower()
        return "v" if kind == "v" else kind
    return "sym"


def form_operand_class(operand: str) -> set[str]:
    """The classes of written operands a form operand accepts (``Xd|SP`` → x; ``Wt|Xt`` → w, x)."""
    found: set[str] = set()
    for choice in operand.split("|"):
        choice = choice.strip()
        if not choice:
            continue
        first = choice[0]
        if choice.startswith(("#:", ":")):
            found.add("reloc")
        elif first == "#":
            found.add("imm")
        elif first == "[":
            found.add("mem")
        elif first == "{":
            found.add("list")
        elif choice.upper() in ("SP", "XZR", "LR", "FP"):
            found.add("x")
        elif choice.upper() in ("WSP", "WZR"):
            found.add("w")
        elif first in "XWVQDSHBZP" and len(choice) > 1 and (choice[1].isalnum() or choice[1] in ".<"):
            found.add(first.lower())
        elif first in "XWVQDSHBZP" and len(choice) == 1:
            found.add(first.lower())
        else:
            found.add("sym")
    return found
