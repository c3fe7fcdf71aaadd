"""Line parser for AArch64 GNU-as text: statements, labels, symbol references.

Positions are 0-based lines and 0-based code point columns (``end`` exclusive).
AArch64 GAS rules followed here: ``//`` and ``/* */`` are comments, ``#`` starts a
comment only in column 0 (``# 1 "file.c"``; elsewhere it prefixes an immediate),
``@`` is not a comment, ``;`` separates statements.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from dataclasses import dataclass, field

from .lexicon import (
    BRANCH_MNEMONICS,
    KEYWORDS,
    NO_SYMBOL_DIRECTIVES,
    NO_SYMBOL_MNEMONICS,
    PREFETCH_PATTERN,
    REGISTER_PATTERN,
    SYMBOL_DEFINING_DIRECTIVES,
)
from .macros import BLOCK_DIRECTIVES, Block, FunctionRole, Macro, MacroFunction
from .model import Function, LabelDef, LabelRef, Operand, Statement

_log = logging.getLogger(__name__)
# Tests set this so that an internal error fails loudly instead of degrading quietly.
STRICT = False

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Pieces of a line that need care: strings, comment openers, separators.
_PIECES = re.compile(r'"(?:\\.|[^"\\])*"?|//|/\*|;|[^"/;]+|/')
_NAME = re.compile(r"\s*([A-Za-z_.$][\w.$]*)")
_JUNK = re.compile(r"\s*(\S+)")
# One operand: stops only at a top-level comma (brackets and strings may hold commas).
_OPERAND = re.compile(r'(?:"(?:\\.|[^"\\])*"?|\[[^\]]*\]?|\{[^}]*\}?|\([^()]*\)?|[^,\[{("])*')


def _symbol_finder(skip_keywords: bool) -> re.Pattern[str]:
    """A pattern whose matches are the symbol references of an operand text.

    Registers (and, unless the operand is a branch target, conditions and shift
    keywords) are ruled out inside the regex engine, so the common operand yields no
    match at all. Groups: 1 numeric ``1b``/``1f`` label, 2 a name; a string matches with neither.
    A name is not preceded by ``\\`` (macro argument), ``%``/``@`` (``%function``) or
    ``/`` (``p0/z``) and not followed by ``:`` (``:lo12:``).
    """
    not_symbols = REGISTER_PATTERN
    if skip_keywords:
        not_symbols += "|" + PREFETCH_PATTERN + "|" + "|".join(sorted(KEYWORDS, key=len, reverse=True))
    return re.compile(
        r'"(?:\\.|[^"\\])*"?'
        r"|(?<![\w.$\\%@/)])(?:(\d+)[bf](?![\w.$])"
        r"|(?!(?i:" + not_symbols + r")(?![\w.$]))([A-Za-z_.$][\w.$]*)(?![\w.$:\\])(?!\s*=(?!=)))"
    )


_SYMBOLS = _symbol_finder(skip_keywords=True)
_BRANCH_SYMBOLS = _symbol_finder(skip_keywords=False)
# Start of a statement: an optional label, then a mnemonic or directive.
# Groups: 1 label (name, number or "quoted"), 2 mnemonic/directive, 3 operands (trimmed).
_HEAD = re.compile(
    r'\s*(?:([A-Za-z_.$][\w.$]*|\d+|"[^"]*")\s*::?\s*)?'
    r"(?:([A-Za-z_.$][\w.$]*)\s*(\S(?:.*\S)?)?)?"
)
# Directives whose operands are needed while parsing; the rest are split on demand.
_EAGER_DIRECTIVES = frozenset(
    [".globl", ".global", ".weak", ".type", ".size", ".section", ".pushsection"]
) | SYMBOL_DEFINING_DIRECTIVES

_FUNCTION_TYPES = frozenset(["function", "gnu_indirect_function", "stt_func", "stt_gnu_ifunc"])
_SECTION_DIRECTIVES = frozenset([".text", ".data", ".bss", ".section", ".pushsection", ".popsection", ".previous"])


@dataclass(slots=True)
class _Facts:
    """What directives said, gathered while parsing, for function detection."""

    typed_functions: set[str] = field(default_factory=set)
    typed_objects: set[str] = field(default_factory=set)
    sizes: dict[str, list[int]] = field(default_factory=dict)
    # (line, section is executable) for every section-changing directive, in order.
    sections: list[tuple[int, bool]] = field(default_factory=list)
    weak: set[str] = field(default_factory=set)
    # `.macro`/`.endm`/`.irp`/`.if`… statements, in order (syntax/macros.py reads them).
    block_directives: list[Statement] = field(default_factory=list)
    macro_functions: list[MacroFunction] = field(default_factory=list)


@dataclass(eq=False)
class ParsedDocument:
    """The parsed text. Build it with :func:`parse`; treat it as read-only."""

    lines: list[str]
    statements: list[Statement]
    labels: list[LabelDef]
    refs: list[LabelRef]
    functions: list[Function]
    globals: set[str]
    weak: set[str] = field(default_factory=set)
    macros: list[Macro] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    #: roles of macros defined in other files that this parse applied (see :func:`parse`)
    external_roles: dict[str, FunctionRole] = field(default_factory=dict)
    _labels_by_line: dict[int, list[LabelDef]] | None = field(default=None, repr=False)
    _refs_by_line: dict[int, list[LabelRef]] | None = field(default=None, repr=False)
    _defs_by_name: dict[str, list[LabelDef]] | None = field(default=None, repr=False)
    _stmt_first: list[int] | None = field(default=None, repr=False)
    _function_starts: list[int] | None = field(default=None, repr=False)
    _reach: list[int] | None = field(default=None, repr=False)

    def label_at(self, line: int, col: int) -> LabelDef | None:
        """The label definition whose name covers (line, col); col may sit just after it."""
        if self._labels_by_line is None:
            self._labels_by_line = _by_line(self.labels)
        return _at(self._labels_by_line.get(line), col)

    def ref_at(self, line: int, col: int) -> LabelRef | None:
        """The symbol reference covering (line, col); col may sit just after it."""
        if self._refs_by_line is None:
            self._refs_by_line = _by_line(self.refs)
        return _at(self._refs_by_line.get(line), col)

    def definitions(self, name: str) -> list[LabelDef]:
        """Every definition of ``name`` (numeric labels may have many)."""
        if self._defs_by_name is None:
            index: dict[str, list[LabelDef]] = {}
            for label in self.labels:
                index.setdefault(label.name, []).append(label)
            self._defs_by_name = index
        return list(self._defs_by_name.get(name, ()))

    def function_at(self, line: int) -> Function | None:
        """The innermost function whose lines include ``line``."""
        if self._function_starts is None or self._reach is None:
            self._function_starts = [f.start_line for f in self.functions]
            # _reach[i]: the last line any of functions[0..i] covers. Walking back stops
            # once no earlier function can reach `line` (else a line between functions
            # walked back to the file's start: quadratic for documentSymbol).
            reach, last = [], -1
            for f in self.functions:
                last = max(last, f.end_line)
                reach.append(last)
            self._reach = reach
        i = bisect_right(self._function_starts, line) - 1
        while i >= 0 and self._reach[i] >= line:
            function = self.functions[i]
            if function.start_line <= line <= function.end_line:
                return function
            i -= 1
        return None

    def statements_on(self, line: int) -> list[Statement]:
        """The statements of one line, in order."""
        if self._stmt_first is None:
            self._stmt_first = _first_statement_per_line(self.statements, len(self.lines))
        if not 0 <= line < len(self.lines):
            return []
        return self.statements[self._stmt_first[line] : self._stmt_first[line + 1]]


def _by_line(items: list) -> dict[int, list]:
    index: dict[int, list] = {}
    for item in items:
        index.setdefault(item.line, []).append(item)
    return index


def _at(items: list | None, col: int):
    if not items:
        return None
    for item in items:
        if item.start <= col < item.end:
            return item
    for item in items:
        if col == item.end:
            return item
    return None


def _first_statement_per_line(statements: list[Statement], line_count: int) -> list[int]:
    """first[i]..first[i+1] are the indexes of line i's statements."""
    first = [0] * (line_count + 1)
    line = 0
    for index, statement in enumerate(statements):
        while line < statement.line:
            line += 1
            first[line] = index
    for rest in range(line + 1, line_count + 1):
        first[rest] = len(statements)
    return first


def split_lines(text: str) -> list[str]:
    """Split on CRLF, CR or LF only (not on the other characters str.splitlines knows)."""
    return _NEWLINE.split(text)


def parse(text: str, roles: dict[str, FunctionRole] | None = None) -> ParsedDocument:
    """Parse AArch64 GNU assembly. Never raises; any str is accepted.

    ``roles``: function-beginning/ending macros defined in other files (lowercased name ->
    role, as ``Macro.role``); the file's own macros and ``macros.CONVENTIONS`` are always used.
    """
    if not isinstance(text, str):
        text = str(text)
    from .functions import find_functions  # functions.py needs ParsedDocument's parts
    from .macros import apply_macros

    lines = split_lines(text)
    parser = _Parser()
    try:
        parser.run(lines)
    except Exception:  # a parser bug must not take the server down: keep what we have
        if STRICT:
            raise
        _log.exception("syntax: parse failed; results are partial")
    labels = parser.labels
    globals_ = parser.globals
    for label in labels:
        if label.kind == "symbol" and label.name in globals_:
            label.kind = "global"
    doc = ParsedDocument(
        lines=lines,
        statements=parser.statements,
        labels=labels,
        refs=parser.refs,
        functions=[],
        globals=globals_,
        weak=parser.facts.weak,
    )
    try:
        apply_macros(doc, parser.facts, roles or {})
    except Exception:
        if STRICT:
            raise
        _log.exception("syntax: macro detection failed")
    try:
        doc.functions = find_functions(doc, parser.facts)
    except Exception:
        if STRICT:
            raise
        _log.exception("syntax: function detection failed")
        doc.functions = []
    return doc


def _label_kind(name: str) -> str:
    return "local" if name.startswith(".L") else "symbol"


class _Parser:
    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self.labels: list[LabelDef] = []
        self.refs: list[LabelRef] = []
        self.globals: set[str] = set()
        self.facts = _Facts()
        self._section_stack: list[tuple[bool, bool]] = []  # (current, previous)
        self._section = (True, True)  # GAS starts in .text
        self._numeric_last: dict[str, int] = {}  # name -> line of latest definition
        self._numeric_pending: dict[str, list[LabelRef]] = {}  # forward refs waiting
        self.continued: set[int] = set()  # lines that continue a `#define … \\`

    def run(self, lines: list[str]) -> None:
        in_block = False
        segment = self._segment
        for lineno, line in enumerate(lines):
            code = line
            if in_block:
                close = line.find("*/")
                if close < 0:
                    continue
                in_block = False
                code = " " * (close + 2) + line[close + 2 :]
            elif not line or line[0] == "#":
                if line.endswith("\\"):
                    skip_to = lineno  # a C-preprocessor directive goes on: not assembly
                    while skip_to + 1 < len(lines) and lines[skip_to].endswith("\\"):
                        skip_to += 1
                    self.continued.update(range(lineno + 1, skip_to + 1))
                continue
            if self.continued and lineno in self.continued:
                continue
            if "/" in code or '"' in code or ";" in code:
                code, bounds, in_block = _mask_line(code)
                for start, end in bounds:
                    segment(code, start, end, lineno)
            else:
                segment(code, 0, len(code), lineno)

    def _segment(self, code: str, pos: int, end: int, lineno: int) -> None:
        m = _HEAD.match(code, pos, end)
        label, word, ops = m.groups()
        while label is not None:
            if word is not None and code.startswith(":", m.end(2)):
                word = None  # `a: b: ...`: more labels, take them one at a time
            pos = self._label(m, lineno)
            if word is not None:
                break
            if pos >= end:
                return
            m = _HEAD.match(code, pos, end)
            label, word, ops = m.groups()
        if word is None:
            m = _JUNK.match(code, pos, end)
            if m is not None:
                start, stop = m.span(1)
                last = len(code[start:end].rstrip()) + start
                self.statements.append(Statement(lineno, "unknown", m.group(1), start, stop, [], start, last))
            return
        name_start, name_end = m.span(2)
        name = word.lower()
        if ops is None:
            kind = "directive" if word[0] == "." else "instruction"
            self.statements.append(Statement(lineno, kind, name, name_start, name_end, [], name_start, name_end))
            if name in BLOCK_DIRECTIVES:
                self.facts.block_directives.append(self.statements[-1])
            if name in _SECTION_DIRECTIVES:
                self._section_change(name, [], lineno)
            return
        ops_start, stmt_end = m.span(3)
        if ops[0] == "=":  # `sym = expr`
            self._assignment(code, lineno, word, name_start, name_end, ops_start, stmt_end)
            return
        if word[0] == ".":
            if name in _EAGER_DIRECTIVES:
                operands = _split_operands(code, ops_start, stmt_end)
                self.statements.append(
                    Statement(lineno, "directive", name, name_start, name_end, operands, name_start, stmt_end)
                )
                self._directive(name, operands, code, lineno)
                return
            self.statements.append(
                Statement(
                    lineno, "directive", name, name_start, name_end, None, name_start, stmt_end,
                    (_split_operands, code, ops_start),
                )
            )
            if name in BLOCK_DIRECTIVES:
                self.facts.block_directives.append(self.statements[-1])
            if name in _SECTION_DIRECTIVES:
                self._section_change(name, _split_operands(code, ops_start, stmt_end), lineno)
            elif name in NO_SYMBOL_DIRECTIVES or name.startswith((".if", ".cfi_")):
                if name in (".cfi_personality", ".cfi_lsda"):
                    self._scan(code, ops_start, stmt_end, lineno, False)
            else:
                self._scan(code, ops_start, stmt_end, lineno, False)
            return
        self.statements.append(
            Statement(
                lineno, "instruction", name, name_start, name_end, None, name_start, stmt_end,
                (_split_operands, code, ops_start),
            )
        )
        if name not in NO_SYMBOL_MNEMONICS:
            self._scan(code, ops_start, stmt_end, lineno, name in BRANCH_MNEMONICS)

    def _label(self, m: re.Match[str], lineno: int) -> int:
        """Record the label matched by _HEAD; return where its statement ends."""
        name = m.group(1)
        start, stop = m.span(1)
        after = m.string.index(":", stop) + 1
        if m.string.startswith(":", after):
            after += 1
        numeric = name[0].isdigit()
        if name[0] == '"':  # quoted: the span keeps the quotes, the name does not
            name = name[1:-1]
        self.statements.append(Statement(lineno, "label", name, start, stop, [], start, after))
        if numeric:
            self._numeric_def(name, lineno, start, stop)
        else:
            self.labels.append(LabelDef(name, lineno, start, stop, _label_kind(name)))
        return after

    def _assignment(self, code, lineno, word, name_start, name_end, eq_start, stmt_end) -> None:
        eq_end = eq_start + (2 if code.startswith("==", eq_start) else 1)
        target = Operand(word, name_start, name_end)
        operands = [target] + [op for op in _split_operands(code, eq_end, stmt_end) if op.text]
        self.statements.append(Statement(lineno, "directive", "=", eq_start, eq_end, operands, name_start, stmt_end))
        self.labels.append(LabelDef(word, lineno, name_start, name_end, _label_kind(word), defined_by="="))
        self._scan(code, eq_end, stmt_end, lineno, False)

    def _directive(self, name: str, operands: list[Operand], code: str, lineno: int) -> None:
        first = operands[0]
        if name in (".globl", ".global"):
            self.globals.update(op.text for op in operands if op.text and "\\" not in op.text)
        elif name == ".weak":
            self.facts.weak.update(op.text for op in operands if op.text and "\\" not in op.text)
        elif name == ".type":
            if len(operands) >= 2:
                flavour = operands[1].text.strip("%@\"' \t").lower()
                if flavour in _FUNCTION_TYPES:
                    self.facts.typed_functions.add(first.text)
                elif flavour in ("object", "stt_object", "tls_object", "common", "notype"):
                    self.facts.typed_objects.add(first.text)
            self._scan(code, first.start, first.end, lineno, False)
            return
        elif name == ".size":
            self.facts.sizes.setdefault(first.text, []).append(lineno)
        elif name in _SECTION_DIRECTIVES:
            self._section_change(name, operands, lineno)
            return
        elif name in SYMBOL_DEFINING_DIRECTIVES:
            if _NAME.fullmatch(first.text):
                self.labels.append(
                    LabelDef(first.text, lineno, first.start, first.end, _label_kind(first.text), defined_by=name)
                )
            if len(operands) > 1:
                self._scan(code, operands[1].start, operands[-1].end, lineno, False)
            return
        self._scan(code, first.start, operands[-1].end, lineno, False)

    def _section_change(self, name: str, operands: list[Operand], lineno: int) -> None:
        current, previous = self._section
        if name == ".text":
            new = (True, current)
        elif name in (".data", ".bss"):
            new = (False, current)
        elif name == ".previous":
            new = (previous, current)
        elif name == ".popsection":
            new = self._section_stack.pop() if self._section_stack else self._section
        else:  # .section / .pushsection NAME[, "flags"...]
            section = operands[0].text.strip('"') if operands else ""
            flags = operands[1].text if len(operands) > 1 else ""
            executable = section.startswith((".text", ".init", ".fini")) or (
                flags.startswith('"') and "x" in flags
            )
            if name == ".pushsection":
                self._section_stack.append(self._section)
            new = (executable, current)
        self._section = new
        self.facts.sections.append((lineno, new[0]))

    def _numeric_def(self, name: str, lineno: int, start: int, stop: int) -> None:
        self.labels.append(LabelDef(name, lineno, start, stop, "numeric"))
        self._numeric_last[name] = lineno
        pending = self._numeric_pending.pop(name, None)
        if pending:
            for ref in pending:
                ref.target_line = lineno

    def _scan(self, code: str, start: int, end: int, lineno: int, branch: bool) -> None:
        """Record the symbol references among the words of code[start:end]."""
        finder = _BRANCH_SYMBOLS if branch else _SYMBOLS
        for m in finder.finditer(code, start, end):
            word = m.group(2)
            if word is not None:
                if word != ".":
                    self.refs.append(LabelRef(word, lineno, m.start(), m.end()))
                continue
            number = m.group(1)
            if number is None:
                continue  # a string
            ref = LabelRef(number, lineno, m.start(), m.end(), None, True)
            if code[m.end() - 1] == "b":
                ref.target_line = self._numeric_last.get(number)
            else:
                self._numeric_pending.setdefault(number, []).append(ref)
            self.refs.append(ref)


def _split_operands(code: str, start: int, end: int) -> list[Operand]:
    operands = []
    pos = start
    match = _OPERAND.match
    while True:
        m = match(code, pos, end)
        stop = m.end()
        raw = code[pos:stop]
        text = raw.strip()
        if text:
            first = pos + len(raw) - len(raw.lstrip())
            operands.append(Operand(text, first, first + len(text)))
        else:
            operands.append(Operand("", pos, pos))
        if stop >= end:
            return operands
        pos = stop + 1  # past the comma


def _mask_line(line: str) -> tuple[str, list[tuple[int, int]], bool]:
    """Blank out comments (keeping columns) and cut the line at ``;``.

    Returns the masked line, the (start, end) bounds of each statement and whether a
    ``/*`` comment stays open past the end of the line.
    """
    masks: list[tuple[int, int]] = []
    cuts: list[int] = []
    end = len(line)
    in_block = False
    pos = 0
    while pos < end:
        m = _PIECES.match(line, pos)
        if m is None:  # pragma: no cover - the pattern matches any character
            break
        piece = m.group()
        if piece == "//":
            end = m.start()
            break
        if piece == "/*":
            close = line.find("*/", m.end())
            if close < 0:
                masks.append((m.start(), end))
                in_block = True
                break
            masks.append((m.start(), close + 2))
            pos = close + 2
            continue
        if piece == ";":
            cuts.append(m.start())
        pos = m.end()
    if masks:
        for a, b in masks:
            line = line[:a] + " " * (b - a) + line[b:]
    bounds = []
    begin = 0
    for cut in cuts:
        bounds.append((begin, cut))
        begin = cut + 1
    bounds.append((begin, end))
    return line, bounds, in_block
