"""Macros of hand-written assembly: ``.macro`` … ``.endm``, C-preprocessor ``#define``,
repetition blocks, and the macros that define functions.

Pure and never raises, like the rest of ``syntax/``. Lines are 0-based, columns are
code points (``end`` exclusive).

- :func:`find_macros` lists the ``.macro`` definitions (nested ones too: FFmpeg's
  ``function`` defines ``endfunc`` inside itself) and the ``#define`` constants and
  function-like macros, and the foldable blocks (``.macro``, ``.irp``, ``.irpc``, ``.rept``,
  ``.if``… ``.endif``).
- Each macro gets a *role* when expanding it one level shows that it begins or ends a
  function: its body defines a label, ``.type … %function`` or ``.global`` from one of its
  arguments (``\\name:``, ``\\name\\():``, ``EXTERN_ASM\\name:``, ``X(\\name):``,
  ``.type \\name, %function``; for a ``#define``, ``.globl name`` or ``name:``), or it invokes
  a macro that does with an argument (dav1d's ``function \\type\\()_8bpc_neon``); it ends one
  when its body holds ``.size``, ``.endfunc`` or ``cfi_endproc``.
- Macros that are not visible (defined in a C header, or several expansions deep like
  Linux's ``SYM_FUNC_START``) are known from :data:`CONVENTIONS`, a table of the
  projects' documented names. A visible definition that begins or ends a function wins.

GAS compares macro names without case; so does this module (C-preprocessor names too:
no project defines ``ENTRY`` and ``entry`` as different things).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Statement
    from .parser import ParsedDocument


@dataclass(slots=True)
class MacroParam:
    """One parameter: ``name[=default][:req|:vararg]``."""

    name: str
    default: str | None = None
    required: bool = False
    vararg: bool = False

    def signature(self) -> str:
        text = self.name
        if self.required:
            text += ":req"
        if self.vararg:
            text += ":vararg"
        if self.default is not None:
            text += "=" + self.default
        return text


@dataclass(slots=True)
class FunctionRole:
    """How a macro's invocation begins or ends a function.

    ``template`` is the function's name with ``\\param`` placeholders (``\\name``,
    ``\\type_16bpc_neon``); ``global_if`` is the parameter whose truth makes the function
    global (FFmpeg's ``export=1``), ``""`` for always global, None for never.
    """

    kind: str  # "start" | "end" | "data" (defines a symbol that is no function: FFmpeg's `const`)
    #            | "label" (only a label from an argument: a function where invoked outside functions)
    params: list[str] = field(default_factory=list)
    defaults: dict[str, str] = field(default_factory=dict)
    template: str = ""
    global_if: str | None = ""
    source: str = "definition"  # "definition" (visible) | "convention" (CONVENTIONS)
    closes: bool = False  # the expansion also ends the function (dav1d's `bidir_fn avg`)
    more: list[str] = field(default_factory=list)  # further functions of one expansion (x264's AVG_WEIGHT)


@dataclass(slots=True)
class Macro:
    """A ``.macro`` (``kind="macro"``) or ``#define`` (``kind="define"``).

    ``line``/``start``/``end``: where the name is written. ``params`` is None for an
    object-like ``#define``. ``end_line``: the ``.endm`` line (the last continuation line of
    a ``#define``). ``value``: a ``#define``'s replacement text; a ``.macro``'s body is
    ``lines[line + 1 : end_line]``. ``role``: see :class:`FunctionRole`.
    """

    name: str
    line: int
    start: int
    end: int
    kind: str
    params: list[MacroParam] | None
    end_line: int
    value: str = ""
    role: FunctionRole | None = None

    def signature(self) -> str:
        if self.kind == "define":
            if self.params is None:
                return f"#define {self.name} {self.value}".rstrip()
            return f"#define {self.name}({', '.join(p.name for p in self.params)}) {self.value}".rstrip()
        params = ", ".join(p.signature() for p in self.params or ())
        return f".macro {self.name} {params}".rstrip()


@dataclass(slots=True)
class Block:
    """A foldable block: ``kind`` is the opening directive (``.macro``, ``.irp``, ``.irpc``,
    ``.rept``, ``.if``…) or ``#define``; lines inclusive."""

    kind: str
    start_line: int
    end_line: int


#: Function macros whose definitions usually cannot be seen from the assembly files:
#: name -> (kind, index of the argument naming the function, global?). Sources:
#: FFmpeg/x264/dav1d ``libavutil/aarch64/asm.S``-style ``function NAME, export=1`` …
#: ``endfunc``; libjpeg-turbo ``asm_function``; Linux ``include/linux/linkage.h`` and
#: ``arch/arm64/include/asm/linkage.h``; glibc ``sysdeps/aarch64/sysdep.h``.
CONVENTIONS: dict[str, tuple[str, bool | str]] = {
    "function": ("start", "export"),
    "asm_function": ("start", True),
    "sym_func_start": ("start", True),
    "sym_func_start_noalign": ("start", True),
    "sym_func_start_local": ("start", False),
    "sym_func_start_local_noalign": ("start", False),
    "sym_func_start_weak": ("start", True),
    "sym_func_start_weak_noalign": ("start", True),
    "sym_func_start_pi": ("start", True),
    "sym_func_start_weak_pi": ("start", True),
    "sym_typed_func_start": ("start", True),
    "sym_code_start": ("start", True),
    "sym_code_start_noalign": ("start", True),
    "sym_code_start_local": ("start", False),
    "sym_code_start_local_noalign": ("start", False),
    "entry": ("start", True),
    "entry_align": ("start", True),
    "entry_align_and_pad": ("start", True),
    "entry_chk": ("start", True),
    "endfunc": ("end", False),
    "sym_func_end": ("end", False),
    "sym_func_end_pi": ("end", False),
    "sym_code_end": ("end", False),
    "endproc": ("end", False),
    "end": ("end", False),
    "end_chk": ("end", False),
}

BLOCK_OPENERS = frozenset(".macro .irp .irpc .rept .if .ifdef .ifndef .ifc .ifnc .ifeq .ifne .ifb .ifnb .ifge .ifgt .ifle .iflt .ifeqs .ifnes .ifnotdef".split())
BLOCK_CLOSERS = {".endm": ".macro", ".endr": (".irp", ".irpc", ".rept"), ".endif": ".if"}
#: Directives the parser hands to :func:`find_macros` (it collects them as it goes).
BLOCK_DIRECTIVES = BLOCK_OPENERS | frozenset([".endm", ".endr", ".endif", ".purgem"])

_MACRO_HEAD = re.compile(r"\s*([A-Za-z_.$][\w.$]*)\s*,?")
_PARAM = re.compile(
    r"\s*,?\s*([A-Za-z_.$][\w.$]*)\s*(?::\s*(req|vararg))?\s*(?:=\s*(\"(?:[^\"\\]|\\.)*\"?|[^\s,]*))?\s*(?::\s*(req|vararg))?"
)
_DEFINE = re.compile(r"\s*#\s*define\s+([A-Za-z_]\w*)(\(([^)]*)\))?[ \t]*(.*)")
# A name built from a parameter: prefixes (`_\fname`, `EXTERN_ASM\name`), wrappers (`X(\name)`),
# `\()` separators and suffixes (`\type\()_neon`).
_TEMPLATE = r"(?:[\w.$]*\(\s*)?[\w.$]*(?:\\\w+(?:\\\(\))?[\w.$]*)+\s*\)?"
_ASM_LABEL = re.compile(r"(?:^|[\s;])(" + _TEMPLATE + r")\s*:(?![:\w])")
_ASM_SYMBOL_DIRECTIVE = re.compile(r"\.(?:globl|global|type)\s+(" + _TEMPLATE + r")")
_ASM_GLOBAL = re.compile(r"\.(?:globl|global)\s+(" + _TEMPLATE + r")")
_ASM_ENDS = re.compile(r"(?:^|[\s;])\.(?:size|endfunc|endp)\b|\bcfi_endproc\b")
_ASM_TYPED_FUNCTION = re.compile(r"\.type\s+[^,]*,\s*[%@#]?(?:function|gnu_indirect_function)\b")
_DATA_SECTION = re.compile(r"(?:^|\s)(?:\.data|\.bss|\.rodata|\.const_data|\.section\s+\"?\.(?:rodata|rdata|data|bss))\b")
_ASM_IF = re.compile(r"\s*\.if\s+\\(\w+)\s*$")
_ARG = re.compile(r'"(?:[^"\\]|\\.)*"?|[^\s,"]+(?:\s*=\s*(?:"(?:[^"\\]|\\.)*"?|[^\s,"]*))?')
_COMMA_ARG = re.compile(r'(?:"(?:[^"\\]|\\.)*"?|\[[^\]]*\]?|\{[^}]*\}?|\([^()]*\)?|[^,\[{("])*')
_PLACEHOLDER = re.compile(r"\\(\w+)(?:\\\(\))?")
_WRAPPER = re.compile(r"[\w.$]*\(\s*([^()]*?)\s*\)")


def find_macros(doc: ParsedDocument, directives: list[Statement]) -> tuple[list[Macro], list[Block]]:
    """The ``.macro``/``#define`` definitions and blocks of ``doc``; ``directives`` are its
    statements named in :data:`BLOCK_DIRECTIVES`, in order. Roles are not set here."""
    lines = doc.lines
    macros: list[Macro] = []
    blocks: list[Block] = []
    stack: list[tuple[str, int, Macro | None]] = []
    for statement in directives:
        name = statement.name
        if name in BLOCK_OPENERS:
            macro = None
            if name == ".macro":
                macro = _asm_macro(lines[statement.line], statement)
                if macro is not None:
                    macros.append(macro)
            stack.append((".if" if name.startswith(".if") else name, statement.line, macro))
        elif name in BLOCK_CLOSERS:
            wanted = BLOCK_CLOSERS[name]
            for depth in range(len(stack) - 1, -1, -1):
                kind, start, macro = stack[depth]
                if kind == wanted or kind in wanted:
                    del stack[depth:]
                    blocks.append(Block(kind, start, statement.line))
                    if macro is not None:
                        macro.end_line = statement.line
                    break
    last = len(lines) - 1
    for kind, start, macro in stack:  # unterminated: to the end of the file
        blocks.append(Block(kind, start, last))
        if macro is not None:
            macro.end_line = last
    macros += _defines(lines)
    macros.sort(key=lambda m: (m.line, m.start))
    blocks.sort(key=lambda b: (b.start_line, -b.end_line))
    blocks += [Block("#define", m.line, m.end_line) for m in macros if m.kind == "define" and m.end_line > m.line]
    return macros, blocks


def _asm_macro(text: str, statement: Statement) -> Macro | None:
    rest = text[statement.name_end : statement.end]
    head = _MACRO_HEAD.match(rest)
    if head is None:
        return None
    start = statement.name_end + head.start(1)
    name = head.group(1)
    params: list[MacroParam] = []
    pos = head.end()
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if m is None or m.end() == pos:
            break
        flags = {m.group(2), m.group(4)}
        params.append(MacroParam(m.group(1), m.group(3), "req" in flags, "vararg" in flags))
        pos = m.end()
    # end_line is set when its .endm is found; the file's end otherwise
    return Macro(name, statement.line, start, start + len(name), "macro", params, 1 << 30)


def _defines(lines) -> list[Macro]:
    found = []
    for lineno, line in enumerate(lines):
        if not line or line[0] != "#" or "define" not in line:
            continue
        m = _DEFINE.match(line)
        if m is None:
            continue
        end_line = lineno
        value = m.group(4)
        while value.endswith("\\") and end_line + 1 < len(lines):
            end_line += 1
            value = value[:-1].rstrip() + " " + lines[end_line].strip()
        value = _strip_c_comments(value.rstrip("\\").strip())
        params = None
        if m.group(2) is not None:
            params = [MacroParam(p.strip()) for p in m.group(3).split(",") if p.strip()]
        found.append(Macro(m.group(1), lineno, m.start(1), m.end(1), "define", params, end_line, value))
    return found


def _strip_c_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", " ", text).split("//", 1)[0].strip()


def continuation_lines(lines, start: int) -> int:
    """The last line of a ``#`` directive starting on ``start`` (lines ending in ``\\``)."""
    end = start
    while lines[end].endswith("\\") and end + 1 < len(lines):
        end += 1
    return end


# -- roles ------------------------------------------------------------------------

def assign_roles(doc: ParsedDocument, macros: list[Macro], known: dict[str, FunctionRole]) -> None:
    """Set ``role`` on the macros of ``doc`` that begin or end a function.

    ``known``: roles of macros defined elsewhere (other files, :data:`CONVENTIONS`), for
    bodies that invoke them. Macros are looked at in order, so a body may invoke an
    earlier macro of the same file.
    """
    roles = dict(known)
    for macro in macros:
        role = None
        if macro.kind == "macro":
            role = _asm_role(doc, macro, roles)
        elif macro.params:
            role = _define_role(macro)
        if role is not None:
            macro.role = role
            roles[macro.name.lower()] = role


def _asm_role(doc: ParsedDocument, macro: Macro, roles: dict[str, FunctionRole]) -> FunctionRole | None:
    params = [p.name for p in macro.params or ()]
    if not params and macro.end_line <= macro.line:
        return None
    names = set(params)
    defaults = {p.name: p.default for p in macro.params or () if p.default is not None}
    body_end = min(macro.end_line, len(doc.lines))
    candidates: list[str] = []  # names the body itself defines (one function, in several spellings)
    invoked_templates: list[str] = []  # one function per invocation of a function macro
    global_if: str | None = None
    conditions: list[str | None] = []
    ends = False
    typed = data = False
    strong = False  # a .type/.global names it: not just a label (a loop label in a helper macro)
    depth = 0
    for lineno in range(macro.line + 1, body_end):
        code = doc.lines[lineno].split("//", 1)[0]
        stripped = code.strip()
        if not stripped:
            continue
        word = stripped.split(None, 1)[0].lower()
        if word == ".macro":
            depth += 1  # a nested definition: its body is not this macro's expansion
            continue
        if word == ".endm":
            depth -= 1
            continue
        if depth > 0:
            continue
        if word[0] == ".":
            if word.startswith(".if"):
                cond = _ASM_IF.match(code)
                conditions.append(cond.group(1) if cond is not None else None)
                continue
            if word == ".endif":
                if conditions:
                    conditions.pop()
                continue
            if word == ".else":
                if conditions and conditions[-1] is not None:
                    conditions[-1] = "!" + conditions[-1]
                continue
        elif stripped[0] == "#":
            continue
        # Substring tests first: most body lines are instructions that none of the patterns match.
        if (".size" in code or ".endf" in code or ".endp" in code or "cfi_endproc" in code) and _ASM_ENDS.search(code):
            ends = True
        if ".type" in code and _ASM_TYPED_FUNCTION.search(code):
            typed = True
        elif ("data" in code or "bss" in code or "rodata" in code) and _DATA_SECTION.search(code):
            data = True
        if "\\" not in code:
            g = None
        else:
            if ":" in code:
                candidates += [m.group(1) for m in _ASM_LABEL.finditer(code)]
            if ".type" in code or ".glob" in code:
                declared = [m.group(1) for m in _ASM_SYMBOL_DIRECTIVE.finditer(code)]
                candidates += declared
                strong = strong or bool(declared)
            g = _ASM_GLOBAL.search(code) if ".glob" in code else None
        if g is not None and _uses(g.group(1), names):
            active = [c for c in conditions if c is not None]
            cond_param = active[-1] if active else ""
            if global_if is None or global_if.startswith("!") or cond_param == "":
                global_if = cond_param
        # An invocation of a function-beginning macro with this macro's arguments.
        invoked = roles.get(word)
        if invoked is not None and invoked.kind == "start":
            args = split_args(stripped[len(word):], 0)
            for template in [invoked.template, *invoked.more]:
                name = _bind(invoked, args, templates=True, template=template)
                if name is not None and (_uses(name[0], names) or not _PLACEHOLDER.search(name[0])):
                    invoked_templates.append(name[0])  # from this macro's arguments, or a fixed name
                    if name[1] and global_if is None:
                        global_if = ""
        elif invoked is not None and invoked.kind == "end":
            ends = True
    templates = [t for t in (_template(c) for c in candidates) if t and _uses(t, names)]
    if invoked_templates and not strong:
        templates = []  # `function \\name` … `\\size\\()_loop:`: that label is the function's own
    if templates or invoked_templates:
        bare = [t for t in templates if _PLACEHOLDER.fullmatch(t)]
        all_templates = ([(bare or templates)[0]] if templates else []) + invoked_templates
        template, more = all_templates[0], list(dict.fromkeys(all_templates[1:]))
        if global_if is not None and global_if.startswith("!"):
            global_if = None
        kind = "data" if data and not typed else "start"  # FFmpeg's `const NAME`: a label in .rodata
        if kind == "start" and not strong and not invoked_templates:
            kind = "label"  # a function only where invoked outside other functions (find_functions)
        return FunctionRole(kind, params, defaults, template, global_if, closes=ends, more=more)
    if ends:
        return FunctionRole("end", params, defaults, "", None)
    return None


def _define_role(macro: Macro) -> FunctionRole | None:
    params = [p.name for p in macro.params or ()]
    value = macro.value
    for param in params:
        p = re.escape(param)
        label = re.search(r"(?:^|[\s;(])" + p + r"\s*(?:##\s*)?:", value)
        symbol = re.search(r"\.(?:globl|global|type)\s+(?:\w+\s*\(\s*)?" + p + r"\b", value)
        if label or symbol:
            is_global = re.search(r"\.(?:globl|global)\s+(?:\w+\s*\(\s*)?" + p + r"\b", value) is not None
            return FunctionRole("start", params, {}, "\\" + param, "" if is_global else None)
    if re.search(r"\.size\b|\.endfunc\b|cfi_endproc", value):
        return FunctionRole("end", params, {}, "", None)
    return None


def _template(candidate: str) -> str:
    """``X(\\name)`` -> ``\\name``; ``EXTERN_ASM\\name`` -> ``\\name``; ``\\type\\()_neon`` kept."""
    wrapped = _WRAPPER.fullmatch(candidate.strip())
    text = wrapped.group(1) if wrapped else candidate.strip()
    first = text.find("\\")
    if first > 0 and not text[:first].endswith(("_", ".")) and re.fullmatch(r"[A-Z][A-Z0-9_]*", text[:first]):
        text = text[first:]  # a cpp prefix such as EXTERN_ASM
    return text


def _uses(text: str, names: set[str]) -> bool:
    return any(m.group(1) in names for m in _PLACEHOLDER.finditer(text))


def split_args(text: str, offset: int) -> list[tuple[str, int, int]]:
    """A macro invocation's arguments with their columns (``offset`` is where ``text``
    starts). ``NAME(a, b)`` and ``name a, b`` / ``name a b`` are both read."""
    stripped = text.lstrip()
    if stripped.startswith("("):
        begin = offset + len(text) - len(stripped) + 1
        close = stripped.rfind(")")
        inner = stripped[1:close] if close > 0 else stripped[1:]
        args = []
        pos = 0
        for piece in inner.split(","):
            word = piece.strip()
            first = begin + pos + (len(piece) - len(piece.lstrip()))
            args.append((word, first, first + len(word)))
            pos += len(piece) + 1
        return args
    if "," not in text:  # `name a b`: separated by spaces
        return [(m.group(), offset + m.start(), offset + m.end()) for m in _ARG.finditer(text)]
    args = []  # `name a, , c`: by commas, where an empty argument keeps its place (dav1d's `warp  , 11`)
    pos = 0
    while True:
        m = _COMMA_ARG.match(text, pos)
        raw = m.group()
        word = raw.strip()
        first = pos + len(raw) - len(raw.lstrip())
        args.append((word, offset + first, offset + first + len(word)))
        if m.end() >= len(text):
            return args
        pos = m.end() + 1  # past the comma


def _bind(role: FunctionRole, args: list[tuple[str, int, int]],
          templates: bool = False, template: str | None = None) -> tuple[str, bool, int, int] | None:
    """(function name, global?, start, end of the argument naming it) for an invocation;
    ``templates``: the arguments may hold ``\\param`` placeholders (an invocation in a body)."""
    values: dict[str, str] = dict(role.defaults)
    spans: dict[str, tuple[int, int]] = {}
    position = 0
    for text, start, end in args:
        key, eq, value = text.partition("=")
        key = key.strip()
        if eq and key in role.params:
            values[key] = value.strip()
            continue
        if position < len(role.params):
            values[role.params[position]] = text
            spans[role.params[position]] = (start, end)
        position += 1
    placeholders = list(_PLACEHOLDER.finditer(template if template is not None else role.template))
    missing = False

    def substitute(m: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(m.group(1))
        if value is None:  # GAS expands a parameter without argument or default to nothing
            missing = missing or m.group(1) not in role.params
            return ""
        if templates and _ENDS_IN_PLACEHOLDER.search(value):
            value += "\\()"  # `\\bpc` then `bpc_neon` must stay two words
        return value

    name = _PLACEHOLDER.sub(substitute, template if template is not None else role.template).strip()
    valid = _TEMPLATE_NAME if templates else _NAME
    if missing or not name or not valid.fullmatch(name):
        return None
    first_arg = (args[0][1], args[0][2]) if args else (-1, -1)  # -1: no argument, the caller uses the macro's name
    span = spans.get(placeholders[0].group(1), first_arg) if placeholders else first_arg
    if span[0] == span[1]:
        span = (-1, -1)  # an empty argument: the name goes on the macro's name
    if role.global_if is None:
        is_global = False
    elif role.global_if == "":
        is_global = True
    else:
        flag = values.get(role.global_if, "0").strip()
        is_global = flag not in ("", "0")
    return name, is_global, span[0], span[1]


def convention_roles() -> dict[str, FunctionRole]:
    """:data:`CONVENTIONS` as roles (the first argument names the function)."""
    roles = {}
    for name, (kind, global_) in CONVENTIONS.items():
        if kind == "end":
            roles[name] = FunctionRole("end", ["name"], {}, "", None, "convention")
        elif isinstance(global_, str):
            roles[name] = FunctionRole("start", ["name", global_], {global_: "0"}, "\\name", global_, "convention")
        else:
            roles[name] = FunctionRole("start", ["name"], {}, "\\name", "" if global_ else None, "convention")
    return roles


CONVENTION_ROLES = convention_roles()


@dataclass(slots=True)
class MacroFunction:
    """A function begun by a macro invocation on ``line``; ``end_line`` is the line of
    its end macro, or -1 (then it ends where a label function would)."""

    name: str
    line: int
    start: int
    end: int
    is_global: bool
    end_line: int = -1
    kind: str = "function"  # "data": a symbol, not a function; "label": a function only outside functions
    macro: str = ""  # the invoked macro's name as written


def invocations(doc: ParsedDocument, roles: dict[str, FunctionRole]) -> list[MacroFunction]:
    """The functions that invocations of ``roles``' macros begin in ``doc``."""
    found: list[MacroFunction] = []
    ends: list[tuple[int, str]] = []  # (line, first argument)
    bodies = sorted((m.line, m.end_line) for m in doc.macros if m.kind == "macro")
    b = 0
    for statement in doc.statements:
        if statement.kind != "instruction":
            continue
        role = roles.get(statement.name)
        if role is None:
            continue
        while b < len(bodies) and bodies[b][1] < statement.line:
            b += 1
        if any(start < statement.line < end for start, end in bodies[b : b + 8]):
            continue  # inside a macro's body: expanded only where that macro is invoked
        line = doc.lines[statement.line]
        args = split_args(line[statement.name_end : statement.end], statement.name_end)
        if role.kind == "end":
            ends.append((statement.line, args[0][0] if args else ""))
            continue
        for template in [role.template, *role.more]:
            bound = _bind(role, args, template=template)
            if bound is None:
                continue
            name, is_global, start, end = bound
            if start < 0:
                start, end = statement.name_start, statement.name_end
            found.append(MacroFunction(name, statement.line, start, end, is_global,
                                       statement.line if role.closes or role.more else -1,
                                       {"data": "data", "label": "label"}.get(role.kind, "function"),
                                       line[statement.name_start : statement.name_end]))
    functions = [f for f in found if f.kind == "function"]  # label-making helpers neither end nor delimit
    if ends:
        starts = [f.line for f in functions]
        e = 0
        for i, function in enumerate(functions):
            if function.end_line >= 0:
                continue
            stop = starts[i + 1] if i + 1 < len(functions) else 1 << 62
            while e < len(ends) and ends[e][0] < function.line:
                e += 1
            j = e
            while j < len(ends) and ends[j][0] < stop:
                line, arg = ends[j]
                if not arg or arg == function.name or line == function.line or _UNNAMED_END.match(arg):
                    function.end_line = line
                    break
                j += 1
    return found


_NAME = re.compile(r"[A-Za-z_.$][\w.$]*")
_ENDS_IN_PLACEHOLDER = re.compile(r"\\\w+\Z")
_TEMPLATE_NAME = re.compile(r"(?:[\w.$]|\\\w+(?:\\\(\))?)+")
_UNNAMED_END = re.compile(r"[^\w.$]")  # an end macro's argument that is no plain name


MACRO_DEFINERS = (".macro", "#define")


def apply_macros(doc: ParsedDocument, facts, external: dict[str, FunctionRole]) -> None:
    """Fill ``doc.macros``/``doc.blocks``, add a ``LabelDef`` for each macro (``defined_by``
    ``".macro"``/``"#define"``) and for each function a macro invocation begins
    (``defined_by`` = the macro's name as written), and leave those functions in
    ``facts.macro_functions`` for ``functions.find_functions``."""
    from .model import LabelDef

    if facts.block_directives or "#" in _first_chars(doc.lines):
        doc.macros, doc.blocks = find_macros(doc, facts.block_directives)
    known = dict(CONVENTION_ROLES)
    known.update(external)
    if doc.macros:
        assign_roles(doc, doc.macros, known)
    roles = known
    own = {m.name.lower(): m.role for m in doc.macros if m.role is not None}
    if own:
        roles = dict(known)
        roles.update(own)
    doc.external_roles = dict(external)
    added: list[LabelDef] = [
        LabelDef(m.name, m.line, m.start, m.end, "symbol", defined_by=m.kind == "macro" and ".macro" or "#define")
        for m in doc.macros
    ]
    functions = invocations(doc, roles)
    spans = set()
    for function in functions:
        macro_name = function.macro
        if function.is_global:
            doc.globals.add(function.name)
        added.append(LabelDef(function.name, function.line, function.start, function.end,
                              "global" if function.is_global else "symbol", defined_by=macro_name or "macro"))
        spans.add((function.line, function.start))
    facts.macro_functions = [f for f in functions if f.kind != "data"]
    if not added:
        return
    bodies = [(m.line, m.end_line) for m in doc.macros if m.kind == "macro"]
    if bodies:  # `ELF .size \name`: a directive handed to a macro is no symbol; nor `export` in `export=1`
        in_body = bytearray(len(doc.lines) + 1)
        for a, b in bodies:
            b = min(b, len(doc.lines))
            if b > a + 1:
                in_body[a + 1 : b] = b"\x01" * (b - a - 1)
        doc.refs = [r for r in doc.refs if not (in_body[r.line]
                                                 and ((r.name[0] == "." and not r.name.startswith(".L"))
                                                      or _keyword_arg(doc, r)))]
    if spans:
        lines = {line for line, _ in spans}
        doc.refs = [r for r in doc.refs
                    if (r.line, r.start) not in spans and not (r.line in lines and _keyword_arg(doc, r))]
    doc.labels = sorted(doc.labels + added, key=lambda d: (d.line, d.start))


def _keyword_arg(doc: ParsedDocument, ref) -> bool:
    """``export`` of ``function f, export=1``: a parameter's name, not a symbol."""
    after = doc.lines[ref.line][ref.end : ref.end + 3].lstrip()
    return after.startswith("=") and not after.startswith("==")


def _first_chars(lines) -> str:
    """Whether any line starts with ``#define``-like text, cheaply: the first characters."""
    return "#" if any(line.startswith("#") and "define" in line for line in lines) else ""


def macro_roles(doc: ParsedDocument) -> dict[str, FunctionRole]:
    """The roles of the macros ``doc`` defines (lowercased name -> role), to hand to
    ``parse(text, roles)`` of files that include it."""
    return {m.name.lower(): m.role for m in doc.macros if m.role is not None}
