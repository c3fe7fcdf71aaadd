"""Outline parse for very large files: labels, functions and globals in bounded time and memory.

:func:`parse` builds a ``Statement`` per statement and runs several regexes per line:
fine for the files people edit (a 20k-line gcc file takes ~80 ms), but a 50 MB compiler
dump took ~86 s and 1.7 GB. :func:`outline` reads the same text with a few whole-text
regex passes and returns an :class:`OutlineDocument`, a ``ParsedDocument`` whose

- ``lines``, ``labels`` (``name:`` at the start of a line, also after ``;``-free code,
  and ``.set``/``.equ``/``.equiv``/``.eqv`` symbols), ``globals``, ``weak`` and
  ``functions`` (typed and label functions, same rules as ``parse`` via
  ``functions.find_functions``) are complete;
- ``refs`` hold what is cheap to find: the last operand of ``b``/``bl``/``b.cond``/``bcond``/
  ``cbz``/``cbnz``/``tbz``/``tbnz``/``adr``/``adrp``, relocation operands such as
  ``:lo12:sym``, and names in the operands of ``.globl``/``.type``/``.size``/``.word``/
  ``.xword``/``.byte``… (on gcc and clang output: exactly the full parser's non-numeric
  refs). Not seen: other instructions' plain symbol operands (``ldr x0, =sym``,
  ``.L``-named literal pools without a relocation) and numeric ``1b``/``1f`` refs;
- ``Function.local_labels`` are empty (a 50 MB file has ~300,000 ``.L`` labels: as
  documentSymbol children they made a 100 MB answer), but each label's ``function`` is set;
- ``statements`` is empty; ``statements_on(line)``, ``ref_at`` and ``label_at`` parse
  the one line asked about with the full parser, so hover, definition and completion at
  a cursor are as exact as in a small file (a ``1b``/``1f`` resolves against the
  outline's numeric labels).

Not seen by the outline: labels after another statement on the same line
(``a: b:``, ``x: ; y:``) beyond the first, quoted labels, and text inside ``/* */``
comments is not skipped (a ``name:`` there counts). Line splitting is the same as
``parse`` (CRLF, CR, LF).

``lines`` of an LF-only text is a :class:`TextLines`, a read-only sequence that slices
each line out of the text on access (4 bytes a line instead of a 70-byte string), and
names are kept once each (refs repeat the labels' names).

Bounds: :func:`needs_outline` is true above ``OUTLINE_CHARS`` (2,000,000 characters)
or ``OUTLINE_LINES`` (100,000 lines); callers use :func:`parse_bounded` to choose. Time
and memory are linear in the text. Measured on 50 MB (2.5M lines) of gcc/clang output:
5.3 s CPU and 245 MB for the outline (the full parser: ~86 s, 1.7 GB); the server parses
it on a worker thread (server/asm_lsp/documents.py), its peak RSS with that document open
is 0.55 GB (0.82 GB while an edit is parsed beside the last parse), and hover/definition
answer in < 0.1 s once it is parsed (tests/test_large_input.py and bench/large_input.py
print the numbers).
Never raises, like the rest of ``syntax/``.
"""

from __future__ import annotations

import logging
import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any

from .lexicon import SYMBOL_DEFINING_DIRECTIVES
from .model import LabelDef, LabelRef, Operand, Statement
from .parser import ParsedDocument, _at, _Facts, _Parser, parse, split_lines

_log = logging.getLogger(__name__)

OUTLINE_CHARS = 2_000_000
OUTLINE_LINES = 100_000

_NAME = r"[A-Za-z_.$][\w.$]*+"
# Every pattern starts with "\n" (the text gets one in front) and uses possessive
# quantifiers: sre jumps from newline to newline and never backtracks into a word,
# which makes each pass ~3x faster than the plain `^...` form.
_LABEL = re.compile(r"\n[ \t]*+(" + _NAME + r"|\d++)[ \t]*+::?")
_DIRECTIVE = re.compile(
    r"\n[ \t]*+(\.(?:globl|global|weak|type|size|set|equ|equiv|eqv|comm|lcomm|text|data|bss|section|pushsection"
    r"|popsection|previous|local|hidden|protected|internal|byte|hword|short|word|long|int|xword|quad|dword"
    r"|2byte|4byte|8byte))(?![\w.$])([^\n]*+)",
    re.IGNORECASE,
)
_CONDITIONS = "eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al|nv"
_BRANCH = re.compile(
    r"\n[ \t]*+(?:(?:" + _NAME + r"|\d++)[ \t]*+::?[ \t]*+)?+"
    r"(?:bl?|b\.?(?:" + _CONDITIONS + r")|bc\.\w++|cbn?z|tbn?z|adrp?)[ \t]++([^\n]*+)",
    re.IGNORECASE,
)
# A line that is one plain directive (no comment, string, `;` or brackets): statements_on's fast path.
_PLAIN_DIRECTIVE = re.compile(r"([ \t]*+)(\.[\w.$]++)(?:[ \t]++([^;/\"\[{(]*+))?+\Z")
_RELOCATION = re.compile(r":[a-z_0-9]+:(" + _NAME + ")", re.IGNORECASE)
_LEADING_NAME = re.compile(_NAME)
# Names in a directive's operands (not `%function`, `\\arg`, `p0/z`, `:lo12:`), as the full parser sees them.
_OPERAND_NAME = re.compile(r"(?<![\w.$\\%@/])(" + _NAME + r")(?![\w.$:])")
_DATA = frozenset(".byte .hword .short .word .long .int .xword .quad .dword .2byte .4byte .8byte".split())
_NOT_SCANNED = frozenset(".set .equ .equiv .eqv .comm .lcomm .text .data .bss .section .pushsection .popsection .previous".split())
_REGISTER = re.compile(r"(?:[xwbhsdqv]\d+|[xw]zr|sp|wsp|lr|fp)(?:\.\w+)?\Z", re.IGNORECASE)
_FUNCTION_TYPES = ("function", "gnu_indirect_function", "stt_func", "stt_gnu_ifunc")
_OBJECT_TYPES = ("object", "stt_object", "tls_object", "common", "notype")


def needs_outline(text: str) -> bool:
    """True for texts too large for the full parser (see the module docstring)."""
    return len(text) > OUTLINE_CHARS or text.count("\n", 0, OUTLINE_CHARS * 2) > OUTLINE_LINES


def parse_bounded(text: str, roles: dict | None = None) -> ParsedDocument:
    """``parse(text, roles)``, or ``outline(text)`` when the text is too large for it."""
    return outline(text) if needs_outline(text) else parse(text, roles)


class TextLines(Sequence[str]):
    """The lines of an LF-only text (``text.split("\\n")``) without 2.5 million line strings:
    line start offsets in an array (4 bytes a line); each line is sliced when asked for."""

    __slots__ = ("text", "starts")

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = array("I" if len(text) < 1 << 32 else "q", [0])
        pos, size = 0, len(text)
        while pos < size:  # 1 MB pieces ending at a line break: the temporary split stays small
            end = text.find("\n", min(size, pos + (1 << 20)))
            end = size if end < 0 else end + 1
            parts = text[pos:end].split("\n")
            offsets = accumulate(map((1).__add__, map(len, parts[:-1])), initial=pos)
            next(offsets)
            self.starts.extend(offsets)
            pos = end

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self.starts)))]
        if i < 0:
            i += len(self.starts)
        start = self.starts[i]  # IndexError past the end, as a list
        end = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else len(self.text)
        return self.text[start:end]

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self.starts)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TextLines({len(self.starts)} lines)"


class OutlineDocument(ParsedDocument):
    """A ``ParsedDocument`` from :func:`outline`: no ``statements``; per-line queries parse that line."""

    is_outline = True
    _finding_functions = False  # set while find_functions walks preambles: see statements_on

    def label_at(self, line: int, col: int) -> LabelDef | None:
        """As ParsedDocument's, by bisection on the sorted labels instead of a per-line table."""
        i = bisect_left(self.labels, line, key=_line_of)
        j = i
        while j < len(self.labels) and self.labels[j].line == line:
            j += 1
        return _at(self.labels[i:j], col)

    def statements_on(self, line: int) -> list[Statement]:
        if not 0 <= line < len(self.lines):
            return []
        text = self.lines[line]
        if not text or text.isspace():
            return []
        plain = _PLAIN_DIRECTIVE.match(text)
        if plain is not None:  # find_functions asks about preamble lines of every function
            return [_plain_directive(plain, line)]
        if self._finding_functions:
            # Only plain directives can extend a preamble or be clang's `.cfi_endproc`;
            # anything else ends the walk, so a stand-in does instead of a parse.
            return [Statement(line, "unknown", "", 0, 0, [], 0, 0)]
        statements = _parse_line(text).statements
        for statement in statements:
            statement.line = line
        return statements

    def ref_at(self, line: int, col: int) -> LabelRef | None:
        if not 0 <= line < len(self.lines):
            return None
        refs = [r for r in _parse_line(self.lines[line]).refs if r.start <= col <= r.end]
        if not refs:
            return None
        ref = next((r for r in refs if col < r.end), refs[0])
        ref.line = line
        if ref.numeric:
            ref.target_line = self._numeric_target(ref.name, line, self.lines[line][ref.end - 1] == "b", ref.start)
        return ref

    def _numeric_target(self, name: str, line: int, backward: bool, col: int) -> int | None:
        places = [(d.line, d.start) for d in self.definitions(name) if d.kind == "numeric"]
        if backward:
            i = bisect_left(places, (line, col)) - 1
            return places[i][0] if i >= 0 else None
        i = bisect_right(places, (line, col))
        return places[i][0] if i < len(places) else None


def _line_of(item: LabelDef) -> int:
    return item.line


def _plain_directive(m: re.Match[str], line: int) -> Statement:
    """The Statement the full parser makes of a ``_PLAIN_DIRECTIVE`` line."""
    name_start, name_end = m.span(2)
    operands: list[Operand] = []
    end = name_end
    ops = m.group(3)
    if ops is not None and ops.strip():
        pos = m.start(3)
        for piece in ops.split(","):
            text = piece.strip()
            first = pos + len(piece) - len(piece.lstrip()) if text else pos
            operands.append(Operand(text, first, first + len(text)))
            pos += len(piece) + 1
        end = m.start(3) + len(ops.rstrip())
    return Statement(line, "directive", m.group(2).lower(), name_start, name_end, operands, name_start, end)


def _parse_line(text: str) -> _Parser:
    """The full parser's view of one line (statements, refs), without function detection."""
    parser = _Parser()
    try:
        parser.run([text])
    except Exception:
        _log.exception("syntax: parsing one line failed")
    return parser


def outline(text: str) -> OutlineDocument:
    """Labels, functions, globals and cheap refs of ``text``; see the module docstring."""
    if not isinstance(text, str):
        text = str(text)
    from .functions import find_functions

    lines: Sequence[str] = TextLines(text) if "\r" not in text else split_lines(text)
    doc = OutlineDocument(lines=lines, statements=[], labels=[], refs=[], functions=[], globals=set())  # type: ignore[arg-type]
    try:
        flat = "\n" + (text if "\r" not in text else "\n".join(lines))
        facts = _Facts()
        names: dict[str, str] = {}  # one string per name: refs repeat the labels' names
        labels = _labels(flat, names)
        directive_refs: list[tuple[int, LabelRef]] = []
        labels += _directives(flat, doc, facts, directive_refs, names)
        labels.sort(key=lambda d: (d.line, d.start))
        doc.labels = labels
        doc.refs = _refs(flat, directive_refs, names)
        for label in labels:
            if label.kind == "symbol" and label.name in doc.globals:
                label.kind = "global"
        doc.weak = facts.weak
        doc._finding_functions = True
        try:
            doc.functions = find_functions(doc, facts)
        finally:
            doc._finding_functions = False
        for function in doc.functions:
            function.local_labels = []  # keeps documentSymbol small; labels still know their function
    except Exception:  # keep what we have; never take the caller down
        _log.exception("syntax: outline failed; results are partial")
    return doc


class _LineCounter:
    """Line number of increasing offsets in ``flat`` (offset 0 is the added "\\n")."""

    def __init__(self, flat: str) -> None:
        self.flat = flat
        self.pos = 1
        self.line = 0
        self.line_start = 1

    def at(self, offset: int) -> int:
        """The line of ``offset`` (a position of the match's leading "\\n" + 1 or later)."""
        if offset > self.pos:
            newlines = self.flat.count("\n", self.pos, offset)
            if newlines:
                self.line += newlines
                self.line_start = self.flat.rfind("\n", self.pos, offset) + 1
            self.pos = offset
        return self.line


def _labels(flat: str, names: dict[str, str]) -> list[LabelDef]:
    found = []
    where = _LineCounter(flat)
    for m in _LABEL.finditer(flat):
        start = m.start(1)
        line = where.at(start)
        col = start - where.line_start
        name = m.group(1)
        name = names.setdefault(name, name)
        kind = "numeric" if name[0].isdigit() else "local" if name.startswith(".L") else "symbol"
        found.append(LabelDef(name, line, col, col + len(name), kind))
    return found


def _operands(text: str) -> list[str]:
    code = text.split("//", 1)[0].split(";", 1)[0]
    return [op.strip() for op in code.split(",")]


def _directives(flat: str, doc: OutlineDocument, facts: _Facts,
                refs: list[tuple[int, LabelRef]], names: dict[str, str]) -> list[LabelDef]:
    """Record globals, types, sizes and sections in ``facts`` and the names directives
    mention in ``refs`` ((offset, ref) pairs); return ``.set``-style definitions."""
    defined = []
    where = _LineCounter(flat)
    stack: list[tuple[bool, bool]] = []
    section = (True, True)
    for m in _DIRECTIVE.finditer(flat):
        line = where.at(m.start(1))
        name = m.group(1).lower()
        if name not in _NOT_SCANNED or name in SYMBOL_DEFINING_DIRECTIVES:
            code = m.group(2)
            if "/" in code or ";" in code:
                code = code.split("//", 1)[0].split(";", 1)[0]
            skip = code.find(",") + 1 if name in SYMBOL_DEFINING_DIRECTIVES else 0
            if name == ".type":
                code = code.split(",", 1)[0]
            if skip or name not in SYMBOL_DEFINING_DIRECTIVES:
                base = m.start(2)
                for word in _OPERAND_NAME.finditer(code, skip):
                    mention = word.group(1)
                    if mention != ".":
                        col = base + word.start(1) - where.line_start
                        refs.append((base + word.start(1),
                                     LabelRef(names.setdefault(mention, mention), line, col, col + len(mention))))
            if name in _DATA:  # the most common directives: nothing more to learn
                continue
        ops = _operands(m.group(2))
        first = ops[0]
        if name in (".globl", ".global"):
            doc.globals.update(op for op in ops if op)
        elif name == ".weak":
            facts.weak.update(op for op in ops if op)
        elif name == ".type" and len(ops) >= 2:
            flavour = ops[1].strip("%@\"' \t").lower()
            if flavour in _FUNCTION_TYPES:
                facts.typed_functions.add(first)
            elif flavour in _OBJECT_TYPES:
                facts.typed_objects.add(first)
        elif name == ".size":
            facts.sizes.setdefault(first, []).append(line)
        elif name in SYMBOL_DEFINING_DIRECTIVES:
            if _LEADING_NAME.fullmatch(first):
                col = flat.index(first, m.start(2)) - where.line_start
                kind = "local" if first.startswith(".L") else "symbol"
                defined.append(LabelDef(first, line, col, col + len(first), kind, defined_by=name))
        else:  # a section change, as parser._Parser._section_change
            current, previous = section
            if name == ".text":
                section = (True, current)
            elif name in (".data", ".bss"):
                section = (False, current)
            elif name == ".previous":
                section = (previous, current)
            elif name == ".popsection":
                section = stack.pop() if stack else section
            else:
                title = first.strip('"')
                flags = ops[1] if len(ops) > 1 else ""
                executable = title.startswith((".text", ".init", ".fini")) or (flags.startswith('"') and "x" in flags)
                if name == ".pushsection":
                    stack.append(section)
                section = (executable, current)
            facts.sections.append((line, section[0]))
    return defined


def _refs(flat: str, found: list[tuple[int, LabelRef]], names: dict[str, str]) -> list[LabelRef]:
    """Branch targets and relocation operands, merged with ``found`` in text order."""
    where = _LineCounter(flat)
    for m in _BRANCH.finditer(flat):
        ops_start = m.start(1)
        line = where.at(ops_start)
        ops = m.group(1).split("//", 1)[0]
        comma = ops.rfind(",")
        target_at = comma + 1 if comma >= 0 else 0
        target = ops[target_at:].lstrip()
        name = _LEADING_NAME.match(target)
        if name is None or _REGISTER.match(name.group()):
            continue
        col = ops_start - where.line_start + target_at + (len(ops) - target_at - len(ops[target_at:].lstrip()))
        word = name.group()
        found.append((m.start(1), LabelRef(names.setdefault(word, word), line, col, col + len(word))))
    where = _LineCounter(flat)
    for m in _RELOCATION.finditer(flat):
        line = where.at(m.start(1))
        col = m.start(1) - where.line_start
        word = m.group(1)
        found.append((m.start(1), LabelRef(names.setdefault(word, word), line, col, col + len(word))))
    found.sort(key=lambda item: item[0])
    return [ref for _, ref in found]
