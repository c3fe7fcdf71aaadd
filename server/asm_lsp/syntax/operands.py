"""Which operand of which statement a cursor is in: the context of signature help.

Pure; never raises. Columns are 0-based code points of one line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .parser import parse
from .semantic import comment_spans

_STRING = re.compile(r'"(?:\\.|[^"\\])*"?')


@dataclass(frozen=True)
class OperandContext:
    """The cursor is in operand ``index`` (0-based, counted by top-level commas) of the
    instruction or directive ``name`` (lower case, directives with their dot);
    ``operands`` are the texts of the operands before it, ``current`` the one under it."""

    name: str
    kind: str  # "instruction" | "directive"
    name_start: int
    name_end: int
    index: int
    operands: tuple[str, ...]
    current: str = ""  # the text of the operand under the cursor (all of it, trimmed)


def operand_context(line_text: str, col: int, in_block_comment: bool = False) -> OperandContext | None:
    """The operand under ``col`` of ``line_text`` (a cursor just after the last character
    counts), or None outside any instruction's or directive's operands: on the mnemonic
    itself, in a comment, on a label. ``in_block_comment``: a ``/*`` from an earlier line
    is open at the start of the line."""
    try:
        return _operand_context(line_text, col, in_block_comment)
    except Exception:  # pragma: no cover - never raise into a feature handler
        return None


def _operand_context(line: str, col: int, in_block: bool) -> OperandContext | None:
    if not isinstance(line, str) or col < 0 or col > len(line):
        return None
    spans, _ = comment_spans(line, in_block)
    if any(a < col <= b and not (b == col and line[a:b].endswith("*/")) for a, b in spans if a < col):
        return None
    code = line
    for a, b in spans:
        code = code[:a] + " " * (b - a) + code[b:]
    doc = parse(code)
    found = None
    for statement in doc.statements:
        if statement.kind in ("instruction", "directive") and statement.name != "=" and statement.name_end < col:
            found = statement
    if found is None:
        return None
    between = code[found.name_end : col]
    if ";" in _STRING.sub("", between):  # the cursor is in a later statement
        return None
    index = 0
    depth = 0
    operands: list[str] = []
    start = found.name_end
    pos = found.name_end
    text = code
    while pos < col:
        ch = text[pos]
        if ch == '"':
            m = _STRING.match(text, pos)
            pos = m.end() if m else pos + 1
            continue
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            operands.append(text[start:pos].strip())
            start = pos + 1
            index += 1
        pos += 1
    end = found.end if found.end >= col else col
    rest = code[start:end]
    current = _first_operand(rest)
    return OperandContext(found.name, found.kind, found.name_start, found.name_end, index, tuple(operands), current)


def _first_operand(text: str) -> str:
    """``text`` up to its first top-level comma, trimmed."""
    depth = 0
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch == '"':
            m = _STRING.match(text, pos)
            pos = m.end() if m else pos + 1
            continue
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            break
        pos += 1
    return text[:pos].strip()
