"""Classify the word under a cursor on one line of assembly."""

from __future__ import annotations

import re

from .lexicon import BRANCH_MNEMONICS, word_class
from .model import Token
from .parser import _mask_line, parse

_WORD = re.compile(r"[\w.$]+")
_NUMBER = re.compile(r"\d")
_NUMERIC_REF = re.compile(r"\d+[bf]")


def token_at(line_text: str, col: int) -> Token | None:
    """The word at 0-based code point column ``col`` of one line (a cursor just after a
    word counts), or None on whitespace, punctuation or in a comment. A line inside a
    multi-line ``/* */`` comment cannot be recognised from its text alone."""
    try:
        return _token_at(line_text, col)
    except Exception:  # pragma: no cover - never raise into a feature handler
        return None


def _token_at(line_text: str, col: int) -> Token | None:
    if not isinstance(line_text, str) or not line_text or col < 0:
        return None
    line = re.split(r"\r\n|\r|\n", line_text, maxsplit=1)[0]
    if line.startswith("#"):
        return None
    word = None
    for m in _WORD.finditer(line):
        if m.start() <= col < m.end():
            word = m
            break
        if m.end() == col:
            word = m  # keep looking: a word starting at col wins
        if m.start() > col:
            break
    if word is None:
        return None
    start, end = word.span()
    text = word.group()
    code, bounds, _ = _mask_line(line)
    if code[start:end] != text or start >= bounds[-1][1]:
        return None  # in a comment
    if line.count('"', 0, start) % 2:
        return Token(text, start, end, "other")  # in a string

    statements = [s for s in parse(line).statements if s.line == 0]
    for statement in statements:
        if statement.name_start <= start and end <= statement.name_end and statement.kind != "unknown":
            kind = {"label": "label", "directive": "directive"}.get(statement.kind, "mnemonic")
            if statement.name == "=":
                continue
            return Token(text, start, end, kind)
    branch = any(
        s.kind == "instruction" and s.name in BRANCH_MNEMONICS and s.start <= start < s.end + 1
        for s in statements
    )
    return Token(text, start, end, _operand_kind(line, text, start, end, branch))


def _operand_kind(line: str, text: str, start: int, end: int, branch: bool) -> str:
    before = line[start - 1] if start else ""
    if text == "." or before in "%@\\/":
        return "other"
    if before == ":" and line[end : end + 1] == ":":
        return "other"  # relocation specifier such as :lo12:
    if _NUMBER.match(text):
        return "label" if _NUMERIC_REF.fullmatch(text) else "number"
    kind = word_class(text)
    if kind == "register":
        return "register"
    if kind == "keyword" and not branch:
        return "other"
    return "label" if text.startswith(".L") else "symbol"
