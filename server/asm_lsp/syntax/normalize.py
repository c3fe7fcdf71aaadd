"""Canonical text of one function, for embeddings and de-duplication."""

from __future__ import annotations

import re

from .model import LabelRef
from .parser import parse

_DROPPED_DIRECTIVES = frozenset([".loc", ".file", ".loc_mark_labels"])
_SPACE_OUTSIDE_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"?|\s+')


def _collapse(text: str) -> str:
    return _SPACE_OUTSIDE_STRINGS.sub(lambda m: m.group() if m.group()[0] == '"' else " ", text).strip()


def normalize_function(text: str, name: str | None = None) -> str:
    """Normalised function text: comments, ``.loc``/``.file``/``.cfi_*`` and blank lines
    removed; one statement per line with whitespace collapsed (strings kept); the
    function's own name (default: the first function found) replaced by ``FUNC``;
    ``.L`` labels renamed ``.L0``, ``.L1``, … in order of first appearance.
    """
    doc = parse(text)
    if name is None and doc.functions:
        name = doc.functions[0].name
    renamed: dict[str, str] = {}

    def rename(symbol: str) -> str:
        if symbol == name or symbol == f"{name}.localalias":  # gcc -fPIC's self-call alias
            return "FUNC"
        if symbol.startswith(".L"):
            new = renamed.get(symbol)
            if new is None:
                new = renamed[symbol] = f".L{len(renamed)}"
            return new
        return symbol

    refs_by_line: dict[int, list[LabelRef]] = {}
    for ref in doc.refs:
        if not ref.numeric:
            refs_by_line.setdefault(ref.line, []).append(ref)

    out: list[str] = []
    for statement in doc.statements:
        if statement.kind == "directive" and (
            statement.name in _DROPPED_DIRECTIVES or statement.name.startswith(".cfi_")
        ):
            continue
        if statement.kind == "label":
            out.append(rename(statement.name) + ":")
            continue
        if statement.kind == "unknown":
            out.append(_collapse(doc.lines[statement.line][statement.start : statement.end]))
            continue
        line = doc.lines[statement.line]
        line_refs = refs_by_line.get(statement.line, ())
        next_ref = 0  # refs and operands both run left to right
        operands = []
        for operand in statement.operands:
            pieces = []
            pos = operand.start
            while next_ref < len(line_refs) and line_refs[next_ref].start < operand.start:
                next_ref += 1
            while next_ref < len(line_refs) and line_refs[next_ref].end <= operand.end:
                ref = line_refs[next_ref]
                pieces.append(line[pos : ref.start])
                pieces.append(rename(ref.name))
                pos = ref.end
                next_ref += 1
            pieces.append(line[pos : operand.end])
            operands.append(_collapse("".join(pieces)))
        if statement.name == "=":
            first = rename(operands[0]) if operands else ""
            out.append(f"{first} = {', '.join(operands[1:])}")
        elif operands:
            out.append(f"{statement.name} {', '.join(operands)}")
        else:
            out.append(statement.name)
    return "\n".join(out)
