"""Semantic tokens of AArch64 GNU-as text: what each word of a line is, for highlighting.

Pure (no pygls); never raises. Token types and modifiers are the standard LSP names, so
editor themes colour them without configuration; ``features/semantic_tokens.py`` turns
the tokens into LSP's UTF-16, delta-encoded integers. The mapping:

==============================================  ===============  ===============================
text                                             type             modifiers
==============================================  ===============  ===============================
mnemonic, with its condition (``b.eq``, ``bne``)  ``keyword``
user macro name (``.macro NAME`` and its uses)   ``macro``        ``declaration`` at ``.macro``
directive (``.globl``, ``.cfi_offset``)          ``macro``        ``defaultLibrary``
register (``x0``, ``v0.4s``, ``p0/z``, ``z1.d``)  ``variable``     ``defaultLibrary``
system register, barrier or prefetch option      ``enumMember``   ``defaultLibrary``
condition operand (``csel x0, x1, x2, eq``)      ``enumMember``   ``defaultLibrary``
shift / extend / SVE pattern (``lsl``, ``uxtw``) ``operator``
relocation specifier (``:lo12:``)                ``modifier``
``%function``, ``@progbits``                     ``keyword``
function label (``name:`` or a reference)        ``function``     ``declaration`` at ``name:``,
                                                                  ``static`` unless global
label inside a function (a branch target)        ``label``        same
other symbol (data, ``.set`` constants)          ``variable``     same
``.L`` local and numeric (``1:``, ``1b``) labels  ``label``        ``static``, ``declaration``
section name (``.section .rodata``)              ``namespace``
macro argument (``\\arg``, ``.macro`` params)     ``parameter``    ``declaration`` in ``.macro``
number (``#16``, ``0x1f``, ``-8``, ``1.5``)       ``number``
string                                           ``string``
comment (``//``, ``/* */``, ``#`` in column 0)    ``comment``
``#include``/``#define`` … (``.S`` files)        ``macro``
==============================================  ===============  ===============================

A reference to a name this text does not define is a ``function`` when it is a branch
target (``bl``/``b``) or ``is_function(name)`` says so (the workspace knows), else a
``variable``. ``label`` is LSP 3.18's type; older clients that lack it drop those tokens.

Tokens are ``(line, start, end, type, modifiers)`` with 0-based lines, code-point columns
(``end`` exclusive), ``type`` an index into :data:`TOKEN_TYPES` and ``modifiers`` a bit
set over :data:`TOKEN_MODIFIERS`; in order, never overlapping, never spanning lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from itertools import groupby
from operator import attrgetter

from .lexicon import (
    BRANCH_MNEMONICS,
    CONDITIONS,
    KEYWORDS,
    NO_SYMBOL_DIRECTIVES,
    NO_SYMBOL_MNEMONICS,
    PREFETCH_PATTERN,
    REGISTER_PATTERN,
    SYMBOL_DEFINING_DIRECTIVES,
)
from .parser import ParsedDocument

_log = logging.getLogger(__name__)
# Tests set this so that an internal error fails loudly instead of degrading quietly.
STRICT = False

TOKEN_TYPES: tuple[str, ...] = (
    "keyword", "macro", "variable", "enumMember", "operator", "modifier", "function",
    "label", "namespace", "parameter", "number", "string", "comment",
)
TOKEN_MODIFIERS: tuple[str, ...] = ("declaration", "static", "defaultLibrary")

(KEYWORD, MACRO, VARIABLE, ENUM_MEMBER, OPERATOR, MODIFIER, FUNCTION,
 LABEL, NAMESPACE, PARAMETER, NUMBER, STRING, COMMENT) = range(len(TOKEN_TYPES))
DECLARATION, STATIC, DEFAULT_LIBRARY = 1, 2, 4

SemanticToken = tuple[int, int, int, int, int]

_KEYWORD_WORDS = "|".join(sorted(KEYWORDS - CONDITIONS, key=len, reverse=True))
_CONDITION_WORDS = "|".join(sorted(CONDITIONS, key=len, reverse=True))
# One pass over an operand field; the regex engine tells registers and keywords from
# symbols, so Python only looks at symbol names. Groups in order: see the _ constants.
_LEX = re.compile(
    r"(?P<reg>(?i:" + REGISTER_PATTERN + r")(?:/[zmZM])?)(?![\w.$])"
    r"|(?P<cond>(?i:" + _CONDITION_WORDS + r"|" + PREFETCH_PATTERN + r"))(?![\w.$])"
    r"|(?P<kw>(?i:" + _KEYWORD_WORDS + r"))(?![\w.$])"
    r'|(?P<str>"(?:\\.|[^"\\])*"?)'
    r"|(?P<reloc>:[A-Za-z_]\w*:)"
    r"|(?P<marg>\\[A-Za-z_]\w*)"
    r"|(?P<pct>[%@][A-Za-z_]\w*)"
    r"|(?P<nref>\d+[bf](?![\w.$]))"
    r"|(?P<num>(?:\#[-+]?)?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.$]))"
    r"|(?P<word>[A-Za-z_.$][\w.$]*)"
    r"|[\w.$]+"  # junk such as `12ab`: consumed whole so no word starts inside it
)
_REG, _COND, _KW, _STR, _RELOC, _MARG, _PCT, _NREF, _NUM, _WORD = range(1, 11)
# What a group is when nothing more needs deciding (mode "code").
_PLAIN = {
    _REG: (VARIABLE, DEFAULT_LIBRARY), _COND: (ENUM_MEMBER, DEFAULT_LIBRARY), _KW: (OPERATOR, 0),
    _STR: (STRING, 0), _RELOC: (MODIFIER, 0), _MARG: (PARAMETER, 0), _PCT: (KEYWORD, 0),
    _NREF: (LABEL, STATIC), _NUM: (NUMBER, 0),
}
_WORDS = re.compile(r"[\w.$]+")
_line_of = attrgetter("line")
_FAST_MODES = frozenset(("code", "branch", "call", "macro"))
_SYMBOL = (VARIABLE, -1)  # sentinels of _WORD_KINDS: a name to classify in context,
_SKIP = (-1, -1)  # and a word that is no token (`.`, junk such as `12ab`)
# Characters before a word that leave it a plain word (`#`, `:`, `\`, `%`, `@`, `/`, `-`,
# `+` and a string's quote need a look).
_PLAIN_BEFORE = frozenset(" \t,[]{}()!=*<>|&^~")
_NUMERIC_REF = re.compile(r"\d+[bf]")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|0[bB][01]+|\d+(?:\.\d+)?(?:[eE]\d+)?")
_WORD_KINDS: dict[str, tuple[int, int]] = {}
_RECORDED = -2  # a token type that stands for "a symbol, see the key"
_MODAL_MNEMONICS = BRANCH_MNEMONICS | NO_SYMBOL_MNEMONICS  # their operands are read differently
# LabelDef.defined_by of definitions written as such (others: a macro invocation's argument).
_PLAIN_DEFINERS = frozenset((":", "=", ".macro", "#define")) | SYMBOL_DEFINING_DIRECTIVES
# line text -> its tokens (start, end, type, modifiers, symbol key or None); see new_line.
# ~400 bytes a line: the bound keeps it under ~40 MB (a 20k-line gcc file has ~9,000 distinct lines).
LINE_CACHE_LINES = 100_000
_LINE_CACHE: dict[str, tuple] = {}


def _word_kind(word: str) -> tuple[int, int]:
    """What an operand word is, without context (cached; bounded)."""
    if word[0].isdigit():
        if _NUMERIC_REF.fullmatch(word):
            kind = (LABEL, STATIC)
        elif _NUMBER.fullmatch(word):
            kind = (NUMBER, 0)
        else:
            kind = _SKIP
    elif word == ".":
        kind = _SKIP
    elif word.startswith(".L"):
        kind = (LABEL, STATIC)
    else:
        m = _LEX.fullmatch(word)
        group = m.lastindex if m else None
        kind = _PLAIN[group] if group in (_REG, _COND, _KW) else _SYMBOL
    if len(_WORD_KINDS) > 100_000:  # random text must not grow it forever
        _WORD_KINDS.clear()
    _WORD_KINDS[word] = kind
    return kind


# Comment scanning: strings (so `"//"` is no comment), comment openers.
_COMMENT_PIECES = re.compile(r'"(?:\\.|[^"\\])*"?|//|/\*')
_PREPROCESSOR = re.compile(r"#\s*(?:include|define|undef|if|ifdef|ifndef|elif|else|endif|error|pragma|line)\b")
_SYSTEM_REGISTER_MNEMONICS = frozenset(("mrs", "msr", "sys", "sysl"))
_SECTION_DIRECTIVES = frozenset((".section", ".pushsection"))
_CALLS = frozenset(("b", "bl"))


def semantic_tokens(
    doc: ParsedDocument,
    first_line: int = 0,
    last_line: int | None = None,
    is_function: Callable[[str], bool] | None = None,
    macros: frozenset[str] | set[str] = frozenset(),
) -> list[SemanticToken]:
    """The tokens of lines ``first_line``..``last_line`` (inclusive, 0-based; default: to the end).

    ``is_function(name)`` answers for names this document does not define (the workspace
    index knows them); without it such a name is a function only as a branch target.
    ``macros``: lowercased names of macros defined elsewhere (their invocations here are
    ``macro`` tokens; this document's own ``.macro``/``#define`` are found here). Never raises: on an internal error the tokens found so far are returned.
    """
    tokens: list[SemanticToken] = []
    try:
        _Tokenizer(doc, is_function, macros).run(first_line, last_line, tokens)
    except Exception:  # highlighting must never take a request down
        if STRICT:
            raise
        _log.exception("syntax: semantic tokens failed; results are partial")
    return tokens


class _Tokenizer:
    def __init__(self, doc: ParsedDocument, is_function: Callable[[str], bool] | None,
                 macros: frozenset[str] | set[str] = frozenset()) -> None:
        self.doc = doc
        self.is_function = is_function
        self.functions = {f.name for f in doc.functions}
        self.globals = doc.globals
        self.defined: dict[str, bool] = {}  # name -> a label inside a function (a branch target)
        for label in doc.labels:
            if label.name not in self.defined:
                self.defined[label.name] = label.defined_by == ":" and label.function is not None
        own = {m.name.lower() for m in getattr(doc, "macros", ()) if getattr(m, "kind", "") == "macro"}
        own.update(  # without syntax/macros.py's list (an outline): the `.macro` statements
            s.operands[0].text.split(None, 1)[0].rstrip(",").lower()
            for s in doc.statements
            if s.name == ".macro" and s.kind == "directive" and s.operands and s.operands[0].text)
        self.macros = own | set(macros)  # lowercased, as GAS compares macro names
        self.symbol_macros = {m.name for m in getattr(doc, "macros", ())}  # #define / .macro names as symbols
        # Symbols a macro invocation defines (`function f, export=1`): `declaration` there.
        self.definitions_at = {(d.line, d.start) for d in doc.labels if d.defined_by not in _PLAIN_DEFINERS}
        self._symbol_cache: dict[tuple[str, bool], tuple[int, int]] = {}
        self._recording = False  # new_line: symbols become keys
        self._keys: list[tuple[str, bool, bool]] = []

    # -- lines ------------------------------------------------------------------
    def run(self, first: int, last: int | None, out: list[SemanticToken]) -> None:
        lines: Sequence[str] = self.doc.lines
        count = len(lines)
        first = max(0, first)
        last = count - 1 if last is None else min(last, count - 1)
        if first > last:
            return
        # An outline (a huge file) is not scanned from its top for an open `/*`.
        comments, masked = _comments(lines, first, last, not getattr(self.doc, "is_outline", False))
        if first == 0 and last == count - 1 and self.doc.statements:
            statements: Sequence = self.doc.statements
        else:
            statements = [s for line in range(first, last + 1) for s in self.doc.statements_on(line)]
        # Comments go in line by line: a line with comments and statements is sorted.
        ci, cn = 0, len(comments)
        # A line's tokens depend on its text only, except macro names (decided when emitted)
        # and a macro named like a branch or system instruction (its operands differ).
        cacheable = not (self.macros & _MODAL_MNEMONICS)
        definitions_at = self.definitions_at
        cache = _LINE_CACHE
        for lineno, group in groupby(statements, key=_line_of):
            if ci < cn and comments[ci][0] < lineno:
                while ci < cn and comments[ci][0] < lineno:
                    out.append(comments[ci])
                    ci += 1
            line_start = len(out)
            code = masked.get(lineno)
            if code is None and cacheable:
                text = lines[lineno]
                entry = cache.get(text)
                if entry is None:
                    self.new_line(text, lineno, group, out)
                else:
                    self.emit(lineno, entry, out)
            else:
                for s in group:
                    self.statement(code or lines[lineno], lineno, s, out)
                if definitions_at:
                    self.mark_definitions(lineno, out, line_start)
            if ci < cn and comments[ci][0] == lineno:
                ci = _flush_comments(comments, ci, lineno, out, line_start)
        out.extend(comments[ci:])

    def new_line(self, text: str, lineno: int, statements, out: list[SemanticToken]) -> None:
        """Tokenize a line not seen before; cache its tokens by its text with symbols left
        as (name, call, definition) keys (most lines of a file recur: in it, and in its
        next version after an edit), then resolve those keys in ``out``."""
        start = len(out)
        self._keys = []
        self._recording = True
        try:
            for s in statements:
                self.statement(text, lineno, s, out)
        finally:
            self._recording = False
        keys = self._keys
        if len(_LINE_CACHE) > LINE_CACHE_LINES:  # bounded: random text must not grow it forever
            _LINE_CACHE.clear()
        _LINE_CACHE[text] = tuple((a, b, t, m, keys[m] if t == _RECORDED else None) for _, a, b, t, m in out[start:])
        if keys:
            for i in range(start, len(out)):
                _, a, b, t, m = out[i]
                if t == _RECORDED:
                    out[i] = self.resolve(lineno, a, b, keys[m])

    def emit(self, lineno: int, entry: tuple, out: list[SemanticToken]) -> None:
        """A cached line's tokens on line ``lineno``."""
        append = out.append
        resolve = self.resolve
        for a, b, t, m, key in entry:
            if key is None:
                append((lineno, a, b, t, m))
            else:
                append(resolve(lineno, a, b, key))

    def resolve(self, lineno: int, a: int, b: int, key: tuple[str, bool | None, bool]) -> SemanticToken:
        """The token of a symbol (or instruction name) key in this document."""
        name, call, definition = key
        if call is None:  # an instruction's name: a macro's invocation?
            return (lineno, a, b, MACRO if name in self.macros else KEYWORD, 0)
        t, m = self.symbol(name, call)
        if definition or (self.definitions_at and (lineno, a) in self.definitions_at):
            m |= DECLARATION
        return (lineno, a, b, t, m)

    def mark_definitions(self, lineno: int, out: list[SemanticToken], start: int) -> None:
        """``declaration`` on the names this line's macro invocation defines."""
        for i in range(start, len(out)):
            token = out[i]
            if (lineno, token[1]) in self.definitions_at and token[3] in (FUNCTION, VARIABLE, LABEL):
                out[i] = token[:4] + (token[4] | DECLARATION,)

    # -- statements -------------------------------------------------------------
    def statement(self, code: str, lineno: int, s, out: list[SemanticToken]) -> None:
        kind = s.kind
        if kind == "instruction":
            name = s.name
            if self._recording:  # macro or mnemonic: decided in emit()
                self._keys.append((name, None, False))
                out.append((lineno, s.name_start, s.name_end, _RECORDED, len(self._keys) - 1))
            else:
                out.append((lineno, s.name_start, s.name_end, MACRO if name in self.macros else KEYWORD, 0))
            if name in self.macros:
                self.operands(code, lineno, s.name_end, s.end, "macro", out)
                return
            if s.end > s.name_end:
                if name in NO_SYMBOL_MNEMONICS:
                    mode = "sysreg" if name in _SYSTEM_REGISTER_MNEMONICS else "option"
                elif name in BRANCH_MNEMONICS:
                    mode = "call" if name in _CALLS else "branch"
                else:
                    mode = "code"
                self.operands(code, lineno, s.name_end, s.end, mode, out)
        elif kind == "label":
            self.label_definition(lineno, s.name, s.name_start, s.name_end, out)
        elif kind == "directive":
            self.directive(code, lineno, s, out)

    def directive(self, code: str, lineno: int, s, out: list[SemanticToken]) -> None:
        name = s.name
        if name == "=":  # `sym = expr`
            target = s.operands[0] if s.operands else None
            if target is not None:
                self.label_definition(lineno, target.text, target.start, target.end, out)
            out.append((lineno, s.name_start, s.name_end, OPERATOR, 0))
            self.operands(code, lineno, s.name_end, s.end, "code", out)
            return
        out.append((lineno, s.name_start, s.name_end, MACRO, DEFAULT_LIBRARY))
        if s.end <= s.name_end:
            return
        if name == ".macro":
            self.macro_definition(code, lineno, s.name_end, s.end, out)
        elif name in SYMBOL_DEFINING_DIRECTIVES:
            ops = s.operands
            first = ops[0] if ops else None
            if first is not None and first.text and not first.text[0].isdigit():
                self.label_definition(lineno, first.text, first.start, first.end, out)
                self.operands(code, lineno, first.end, s.end, "code", out)
            else:
                self.operands(code, lineno, s.name_end, s.end, "code", out)
        elif name in _SECTION_DIRECTIVES:
            ops = s.operands
            if ops and ops[0].text and ops[0].text[0] != '"':
                out.append((lineno, ops[0].start, ops[0].end, NAMESPACE, 0))
                self.operands(code, lineno, ops[0].end, s.end, "data", out)
            else:
                self.operands(code, lineno, s.name_end, s.end, "data", out)
        elif name in NO_SYMBOL_DIRECTIVES or name.startswith((".if", ".cfi_")):
            mode = "code" if name in (".cfi_personality", ".cfi_lsda") else "data"
            self.operands(code, lineno, s.name_end, s.end, mode, out)
        else:
            self.operands(code, lineno, s.name_end, s.end, "code", out)

    def macro_definition(self, code: str, lineno: int, start: int, end: int, out: list[SemanticToken]) -> None:
        """``.macro NAME a, b=1, c:req``: the name, then parameters with their defaults."""
        first = True
        for m in _LEX.finditer(code, start, end):
            group = m.lastindex
            if group in (_WORD, _REG, _COND, _KW):
                if first:
                    out.append((lineno, m.start(), m.end(), MACRO, DECLARATION))
                elif code[m.start() - 1] != ":":  # not the `req` of `c:req`
                    out.append((lineno, m.start(), m.end(), PARAMETER, DECLARATION))
                first = False
            elif group in (_NUM, _NREF, _STR):
                out.append((lineno, m.start(), m.end(), *_PLAIN[group]))

    # -- operands ---------------------------------------------------------------
    def operands(self, code: str, lineno: int, start: int, end: int, mode: str, out: list[SemanticToken]) -> None:
        """Tokens of ``code[start:end]``. ``mode``: ``"code"`` (symbols and registers),
        ``"branch"``/``"call"`` (keywords are label names too), ``"sysreg"``/``"option"``
        (names are system registers or options), ``"data"`` (directives whose names are
        not symbols: only numbers, strings, registers), ``"macro"`` (a macro's use)."""
        if mode in _FAST_MODES and '"' not in code[start:end]:
            self.fast_operands(code, lineno, start, end, mode != "code" and mode != "macro", mode == "call", out)
            return
        append = out.append
        plain = _PLAIN
        for m in _LEX.finditer(code, start, end):
            group = m.lastindex
            if group is None:
                continue
            a, b = m.span()
            if group == _WORD or (group in (_COND, _KW) and mode in ("branch", "call")):
                word = m.group()
                if mode == "sysreg":
                    append((lineno, a, b, VARIABLE, DEFAULT_LIBRARY))
                elif mode == "option":
                    append((lineno, a, b, ENUM_MEMBER, DEFAULT_LIBRARY))
                elif mode != "data" and word != ".":
                    append((lineno, a, b, *self.symbol(word, mode == "call")))
            elif mode == "data" and group in (_NREF, _COND, _KW):
                continue
            else:
                append((lineno, a, b, *plain[group]))

    def fast_operands(self, code: str, lineno: int, start: int, end: int, branch: bool, call: bool,
                      out: list[SemanticToken]) -> None:
        """:meth:`operands` for fields without strings: one simple regex, words classified
        from a cache (the same few registers and numbers make up most of a file)."""
        append = out.append
        kinds = _WORD_KINDS
        plain = _PLAIN_BEFORE
        for m in _WORDS.finditer(code, start, end):
            word = m.group()
            found = kinds.get(word)
            if found is None:
                found = _word_kind(word)
            a, b = m.span()
            before = code[a - 1]
            if found is _SYMBOL or (branch and found[0] in (ENUM_MEMBER, OPERATOR)):
                if code[b : b + 1] == "=" and code[b + 1 : b + 2] != "=":
                    append((lineno, a, b, PARAMETER, 0))  # `export=1`: a macro's keyword argument
                    continue
                if before in plain:
                    t, mods = self.symbol(word, call)
                    append((lineno, a, b, t, mods))
                    continue
            elif found is _SKIP:
                continue
            elif before in plain:
                append((lineno, a, b, found[0], found[1]))
                continue
            if before == "#" or (before in "-+" and code[a - 2 : a - 1] == "#"):
                if found[0] == NUMBER:
                    append((lineno, a - (1 if before == "#" else 2), b, NUMBER, 0))
                elif found is _SYMBOL:
                    append((lineno, a, b, *self.symbol(word, call)))
                else:
                    append((lineno, a, b, *found))
            elif before == ":" and code[b : b + 1] == ":" and not (out and out[-1][0] == lineno and out[-1][2] >= a):
                append((lineno, a - 1, b + 1, MODIFIER, 0))
            elif before == "\\":
                append((lineno, a - 1, b, PARAMETER, 0))
            elif before in "%@":
                append((lineno, a - 1, b, KEYWORD, 0))
            elif (before == "/" and word in ("z", "m", "Z", "M") and out and out[-1][2] == a - 1
                  and out[-1][3] == VARIABLE):
                last = out[-1]
                out[-1] = (last[0], last[1], b, VARIABLE, DEFAULT_LIBRARY)  # p0/z
            elif found is _SYMBOL:
                append((lineno, a, b, *self.symbol(word, call)))
            else:
                append((lineno, a, b, *found))

    # -- symbols ----------------------------------------------------------------
    def label_definition(self, lineno: int, name: str, start: int, end: int, out: list[SemanticToken]) -> None:
        if name[:1].isdigit():
            out.append((lineno, start, end, LABEL, DECLARATION | STATIC))
            return
        if self._recording:
            self._keys.append((name, False, True))
            out.append((lineno, start, end, _RECORDED, len(self._keys) - 1))
            return
        token_type, modifiers = self.symbol(name, False)
        out.append((lineno, start, end, token_type, modifiers | DECLARATION))

    def symbol(self, name: str, call: bool) -> tuple[int, int]:
        if self._recording:  # classified in context when the line is emitted
            self._keys.append((name, call, False))
            return _RECORDED, len(self._keys) - 1
        key = (name, call)
        found = self._symbol_cache.get(key)
        if found is None:
            found = self._symbol_cache[key] = self._classify(name, call)
        return found

    def _classify(self, name: str, call: bool) -> tuple[int, int]:
        if name.startswith(".L"):
            return LABEL, STATIC
        defined = self.defined.get(name)
        static = STATIC if defined is not None and name not in self.globals else 0
        if name in self.functions:
            return FUNCTION, static
        if defined is not None:
            return (LABEL if defined else VARIABLE), static
        if name in self.symbol_macros or (defined is None and name.lower() in self.macros):
            return MACRO, 0
        if call or (self.is_function is not None and self.is_function(name)):
            return FUNCTION, 0
        return VARIABLE, 0


# -- comments -------------------------------------------------------------------
def _flush_comments(comments: list[SemanticToken], ci: int, line: int, out: list[SemanticToken],
                    line_start: int) -> int:
    """Add ``line``'s comments to its statement tokens (``out[line_start:]``), in order."""
    while ci < len(comments) and comments[ci][0] == line:
        out.append(comments[ci])
        ci += 1
    out[line_start:] = sorted(out[line_start:])
    return ci


def _comments(lines: Sequence[str], first: int, last: int,
              scan_back: bool = True) -> tuple[list[SemanticToken], dict[int, str]]:
    """Comment tokens of lines ``first``..``last`` and, for lines whose code a ``/* */``
    interrupts, the line with its comments blanked out (columns kept). ``scan_back``:
    look at the lines above ``first`` for a ``/*`` still open."""
    tokens: list[SemanticToken] = []
    masked: dict[int, str] = {}
    in_block = block_comment_open_at(lines, first) if scan_back else False
    for lineno in range(first, last + 1):
        line = lines[lineno]
        if not (in_block or "/" in line or line[:1] == "#"):
            continue
        spans, in_block = comment_spans(line, in_block)
        if not spans:
            continue
        if line[:1] == "#" and spans[0][0] == 0:
            m = _PREPROCESSOR.match(line)
            if m:  # cpp in a .S file: the directive word; the rest is left alone
                tokens.append((lineno, 0, m.end(), MACRO, 0))
                continue
        for a, b in spans:
            if b > a:
                tokens.append((lineno, a, b, COMMENT, 0))
        if any(b < len(line) for _, b in spans):  # code after (or between) comments
            masked[lineno] = _mask(line, spans)
    return tokens, masked


def block_comment_open_at(lines: Sequence[str], line: int) -> bool:
    """Whether a ``/*`` comment opened on an earlier line is still open at ``line``."""
    in_block = False
    for i in range(min(line, len(lines))):
        text = lines[i]
        if in_block or "/*" in text:
            _, in_block = comment_spans(text, in_block)
    return in_block


def comment_spans(line: str, in_block: bool) -> tuple[list[tuple[int, int]], bool]:
    """The comment spans of one line and whether a ``/*`` stays open after it.

    AArch64 GAS: ``//`` to the end of the line, ``/* */`` (may span lines), ``#`` in
    column 0 (a cpp line marker or, in a ``.S`` file, a preprocessor line)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    end = len(line)
    if in_block:
        close = line.find("*/")
        if close < 0:
            return [(0, end)], True
        spans.append((0, close + 2))
        pos = close + 2
    elif line.startswith("#"):
        return [(0, end)], False
    while pos < end:
        m = _COMMENT_PIECES.search(line, pos)
        if m is None:
            break
        piece = m.group()
        if piece == "//":
            spans.append((m.start(), end))
            break
        if piece == "/*":
            close = line.find("*/", m.end())
            if close < 0:
                spans.append((m.start(), end))
                return spans, True
            spans.append((m.start(), close + 2))
            pos = close + 2
            continue
        pos = m.end()  # a string
    return spans, False


def _mask(line: str, spans: list[tuple[int, int]]) -> str:
    for a, b in spans:
        line = line[:a] + " " * (b - a) + line[b:]
    return line
