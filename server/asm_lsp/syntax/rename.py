"""Rename of labels and symbols: which names are valid, where a name is written in one
document, and whether renaming a numeric label would change what its neighbours mean.

Pure; never raises (problems come back as messages). Positions are 0-based lines and
code-point columns. The workspace part (which files a global symbol spans, collisions
across files) is ``features/rename.py``. Rules, as GNU as sees names:

- A new name is a plain symbol name: ``[A-Za-z_.$][A-Za-z0-9_.$]*``, not a register
  (``x0``, ``v1``), condition or shift word (``eq``, ``lsl``), nor ``.``: written as an
  operand those would mean something else.
- ``.L`` names are assembler-local and stay so: a ``.L`` label is renamed to another
  ``.L`` name, and no other symbol becomes one (that would drop it from the symbol table
  and break other files' references).
- A numeric label (``1:``, used as ``1b``/``1f``) is renamed only to another number:
  its definition and the references that resolve to it. Refused when that would change
  which definition any ``Nb``/``Nf`` in the file resolves to.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .lexicon import word_class
from .parser import ParsedDocument, parse

SYMBOL_NAME = re.compile(r"[A-Za-z_.$][\w.$]*", re.ASCII)
NUMBER = re.compile(r"\d+", re.ASCII)


@dataclass(frozen=True)
class Span:
    """Where a name is written: 0-based ``line``, code-point columns ``start``..``end``."""

    line: int
    start: int
    end: int


def name_problem(old: str, new: str) -> str | None:
    """Why ``old`` cannot be renamed to ``new``, or None when the new name is acceptable."""
    if not isinstance(new, str) or not new:
        return "the new name is empty"
    if old.isdigit():
        if not NUMBER.fullmatch(new):
            return (f"'{new}' is not a number: numeric label {old} (used as {old}b/{old}f) "
                    "can only be renamed to another number")
        return None
    if NUMBER.fullmatch(new):
        return f"'{new}' is a number: only numeric labels such as '1:' have numeric names"
    if not SYMBOL_NAME.fullmatch(new):
        return (f"'{new}' is not a valid symbol name: it must start with a letter, '_', '.' or '$' "
                "and hold only letters, digits, '_', '.' and '$'")
    if new == ".":
        return "'.' is the location counter, not a symbol name"
    kind = word_class(new)
    if kind == "register":
        return f"'{new}' is a register name: as an operand it would mean the register, not the symbol"
    if kind == "keyword":
        return f"'{new}' is a condition or shift keyword: as an operand it would not mean the symbol"
    if old.startswith(".L") and not new.startswith(".L"):
        return (f"'{old}' is assembler-local (.L); its new name must start with .L too "
                "(otherwise it becomes a symbol in the object file)")
    if new.startswith(".L") and not old.startswith(".L"):
        return (f"'{new}' starts with .L: '{old}' would become assembler-local and references "
                "from other files would break")
    return None


def symbol_spans(doc: ParsedDocument, name: str) -> list[Span]:
    """Every definition and reference of the (non-numeric) ``name`` in ``doc``, in order."""
    spans = [Span(d.line, d.start, d.end) for d in doc.labels if d.name == name]
    spans += [Span(r.line, r.start, r.end) for r in doc.refs if r.name == name and not r.numeric]
    return sorted(set(spans), key=lambda s: (s.line, s.start))


def numeric_spans(doc: ParsedDocument, name: str, definition_line: int) -> list[Span]:
    """The numeric label ``name`` defined on ``definition_line`` and the ``Nb``/``Nf`` that
    resolve to it; a reference's span covers its digits only (the ``b``/``f`` stays)."""
    spans = [Span(d.line, d.start, d.end) for d in doc.labels
             if d.kind == "numeric" and d.name == name and d.line == definition_line]
    spans += [Span(r.line, r.start, r.end - 1) for r in doc.refs
              if r.numeric and r.name == name and r.target_line == definition_line]
    return sorted(spans, key=lambda s: (s.line, s.start))


def apply_spans(lines: list[str], spans: list[Span], new: str) -> list[str]:
    """``lines`` with every span replaced by ``new`` (spans must not overlap)."""
    out = list(lines)
    for span in sorted(spans, key=lambda s: (s.line, -s.start)):
        text = out[span.line]
        out[span.line] = text[: span.start] + new + text[span.end :]
    return out


def numeric_problem(doc: ParsedDocument, name: str, definition_line: int, new: str) -> str | None:
    """Whether renaming numeric label ``name`` (defined on ``definition_line``) to ``new``
    changes what any numeric reference of the file resolves to: the edit is applied to a
    copy of the text, parsed again and every ``Nb``/``Nf`` compared."""
    try:
        spans = numeric_spans(doc, name, definition_line)
        renamed = {(s.line, s.start) for s in spans}
        text = "\n".join(apply_spans(list(doc.lines), spans, new))
        after = parse(text)
        shift = len(new) - len(name)
        before_targets = []
        for ref in doc.refs:
            if ref.numeric:
                start = ref.start
                # columns after an edited span on the same line move by `shift`
                moved = sum(1 for s in spans if s.line == ref.line and s.start < ref.start)
                before_targets.append((ref.line, start + moved * shift, ref.target_line,
                                       (ref.line, ref.start) in renamed))
        after_refs = {(r.line, r.start): r.target_line for r in after.refs if r.numeric}
        for line, start, target, _ in before_targets:
            if after_refs.get((line, start), "missing") != target:
                written = after.lines[line][start:].split(None, 1)[0].rstrip(",")
                return (f"renaming {name} to {new} would change what '{written}' on line {line + 1} "
                        "refers to; pick another number")
        return None
    except Exception:  # pragma: no cover - a pure function never raises
        return "could not check the rename of a numeric label"
