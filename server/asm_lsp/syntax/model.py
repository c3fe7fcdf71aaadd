"""Plain data objects of the syntax model.

All positions are 0-based lines and 0-based Python string (code point) columns;
``end`` columns are exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(slots=True)
class Operand:
    """One comma-separated operand, trimmed of surrounding whitespace."""

    text: str
    start: int
    end: int


class Statement:
    """One statement: a label definition, a directive, an instruction or junk.

    ``name`` is the lowercased mnemonic (``b.eq``), the lowercased directive with its
    dot (``.type``) or the label name as written. ``operands`` of instructions are
    split on first use (most are never looked at), otherwise this is a plain record.
    """

    __slots__ = ("line", "kind", "name", "name_start", "name_end", "start", "end", "_operands", "_source")

    def __init__(
        self,
        line: int,
        kind: str,  # "label" | "directive" | "instruction" | "unknown"
        name: str,
        name_start: int,
        name_end: int,
        operands: list[Operand] | None,
        start: int,
        end: int,
        source: tuple[Callable[[str, int, int], list[Operand]], str, int] | None = None,
    ) -> None:
        self.line = line
        self.kind = kind
        self.name = name
        self.name_start = name_start
        self.name_end = name_end
        self.start = start
        self.end = end
        self._operands = operands
        self._source = source  # (splitter, masked line, operands start) until split

    @property
    def operands(self) -> list[Operand]:
        if self._operands is None:
            operands: list[Operand] = []
            if self._source is not None:
                try:
                    split, code, start = self._source
                    operands = split(code, start, self.end)
                except Exception:  # pragma: no cover
                    operands = []
            self._operands = operands
            self._source = None
        return self._operands

    def _fields(self) -> tuple:
        return (self.line, self.kind, self.name, self.name_start, self.name_end, self.operands, self.start, self.end)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Statement):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable record, like the dataclasses

    def __repr__(self) -> str:
        names = ("line", "kind", "name", "name_start", "name_end", "operands", "start", "end")
        return "Statement(" + ", ".join(f"{n}={v!r}" for n, v in zip(names, self._fields())) + ")"


@dataclass(slots=True)
class LabelDef:
    """A symbol definition: ``name:``, ``.set``/``.equ``/``.equiv``/``.comm``/``.lcomm`` or ``name = expr``.

    ``kind``: ``"local"`` for ``.L*``, ``"numeric"`` for ``1:``, ``"global"`` when the
    name is in ``ParsedDocument.globals``, else ``"symbol"``. ``defined_by`` says how
    (``":"`` for an ordinary label, else the directive such as ``".set"`` or ``"="``).
    """

    name: str
    line: int
    start: int
    end: int
    kind: str
    function: str | None = None
    defined_by: str = ":"


@dataclass(slots=True)
class LabelRef:
    """A symbol used in an operand; numeric ``1b``/``1f`` carry ``name="1"``, ``numeric=True``
    and ``target_line`` (the resolved definition's line, or None)."""

    name: str
    line: int
    start: int
    end: int
    target_line: int | None = None
    numeric: bool = False


@dataclass(slots=True)
class Function:
    """A function's lines, ``start_line``..``end_line`` inclusive.

    ``start_line`` includes an adjacent ``.globl``/``.type``/``.p2align`` preamble;
    ``label_line`` is the line of ``name:``. ``kind`` is ``"typed"`` (``.type NAME,
    %function``) or ``"label"`` (a global label in hand-written code).
    """

    name: str
    start_line: int
    end_line: int
    label_line: int
    kind: str
    local_labels: list[LabelDef] = field(default_factory=list)


@dataclass(slots=True)
class FunctionText:
    """A function's source text (lines joined with ``\\n``) and where it lies."""

    name: str
    start_line: int
    end_line: int
    text: str


@dataclass(slots=True)
class Token:
    """The word under a cursor. ``kind``: ``"mnemonic" | "register" | "directive" |
    "label" | "symbol" | "number" | "other"``."""

    text: str
    start: int
    end: int
    kind: str
