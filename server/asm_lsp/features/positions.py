"""Conversions between the syntax layer's positions and LSP's.

The syntax layer counts 0-based lines and code-point columns; LSP counts 0-based lines
and UTF-16 code units. Lines past the end clamp to the last line, columns to the line.
"""
from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types


def to_utf16(line_text: str, col: int) -> int:
    """UTF-16 column of code-point column ``col`` in ``line_text`` (clamped)."""
    head = line_text[: max(0, col)]
    if head.isascii():
        return len(head)
    return len(head.encode("utf-16-le", "surrogatepass")) // 2


def from_utf16(line_text: str, col16: int) -> int:
    """Code-point column of UTF-16 column ``col16`` in ``line_text`` (clamped)."""
    if line_text.isascii():
        return max(0, min(col16, len(line_text)))
    units = 0
    for i, char in enumerate(line_text):
        if units >= col16:
            return i
        units += 2 if ord(char) > 0xFFFF else 1
    return len(line_text)


def line_of(lines: Sequence[str], line: int) -> str:
    return lines[line] if 0 <= line < len(lines) else ""


def clamp_position(lines: Sequence[str], position: types.Position) -> tuple[int, int]:
    """An LSP position as a (line, code-point column) that exists in ``lines``."""
    if not lines:
        return 0, 0
    line = max(0, min(position.line, len(lines) - 1))
    return line, from_utf16(lines[line], max(0, position.character))


def lsp_range(lines: Sequence[str], line: int, start: int, end: int) -> types.Range:
    text = line_of(lines, line)
    return types.Range(
        start=types.Position(line=line, character=to_utf16(text, start)),
        end=types.Position(line=line, character=to_utf16(text, end)),
    )


def line_range(lines: Sequence[str], first: int, last: int) -> types.Range:
    """From the start of line ``first`` to the end of line ``last`` (inclusive)."""
    return types.Range(
        start=types.Position(line=first, character=0),
        end=types.Position(line=last, character=to_utf16(line_of(lines, last), len(line_of(lines, last)))),
    )
