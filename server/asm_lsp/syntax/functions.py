"""Functions in a parsed file, and the splitter the training pipeline uses.

A function is either *typed* (``.type NAME, %function``, from its ``NAME:`` through
``.size NAME``; clang's ``.cfi_endproc`` right after ``.size`` is included) or, in
hand-written code, a *label* function: a ``.globl``/``.weak`` label in an executable
section that runs until the next function, section change or end of file.
Lines are 0-based.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

from .model import Function, FunctionText, LabelDef

if TYPE_CHECKING:
    from .parser import ParsedDocument, _Facts

# Preamble directives that name the function (`.globl f`, `.type f, %function`).
_NAMED_PREAMBLE = frozenset(
    ".globl .global .weak .hidden .protected .internal .type .local .variant_pcs".split()
)
_MACRO_DEFINERS = (".macro", "#define")
_ALIGN_PREAMBLE = frozenset(".p2align .align .balign .balignw .balignl .p2alignw .p2alignl".split())


def find_functions(doc: ParsedDocument, facts: _Facts) -> list[Function]:
    line_count = len(doc.lines)
    first_def: dict[str, LabelDef] = {}
    for label in doc.labels:
        if label.defined_by == ":" and label.kind != "numeric":
            first_def.setdefault(label.name, label)

    functions: list[Function] = []
    for name in facts.typed_functions:
        label = first_def.get(name)
        if label is None:
            continue
        end = -1
        for size_line in facts.sizes.get(name, ()):
            if size_line >= label.line:
                end = _past_cfi_endproc(doc, size_line)
                break
        functions.append(Function(name, label.line, end, label.line, "typed"))

    typed = sorted((f.label_line, f.end_line) for f in functions if f.end_line >= 0)
    seen = {f.name for f in functions}
    open_until = -1  # the last line of the latest macro function; 1 << 62 while its end is unknown
    for made in facts.macro_functions:  # `function NAME` … `endfunc`, SYM_FUNC_START(NAME), ENTRY(NAME)
        if made.kind == "label" and (made.line <= open_until or _inside(typed, made.line)):
            continue  # a label-making helper invoked inside a function is a label there
        if made.name not in seen and made.name not in first_def:
            seen.add(made.name)
            functions.append(Function(made.name, made.line, made.end_line, made.line, "macro"))
            open_until = made.end_line if made.end_line >= 0 else 1 << 62
        elif made.kind != "label":
            open_until = made.end_line if made.end_line >= 0 else 1 << 62
    section_lines = [line for line, _ in facts.sections]
    exported = (doc.globals | facts.weak) - facts.typed_functions - facts.typed_objects
    for name in exported:
        label = first_def.get(name)
        if label is None or _inside(typed, label.line):
            continue
        i = bisect_right(section_lines, label.line) - 1
        if i >= 0 and not facts.sections[i][1]:
            continue  # a global in a data section is an object
        end = -1
        for size_line in facts.sizes.get(name, ()):
            if size_line >= label.line:
                end = size_line
                break
        functions.append(Function(name, label.line, end, label.line, "label"))

    functions.sort(key=lambda f: (f.label_line, f.name))
    macro_lines = sorted(m.line for m in doc.macros if m.kind == "macro")
    for function in functions:
        function.start_line = _preamble_start(doc, function.name, function.label_line)
    for index, function in enumerate(functions):
        if function.end_line >= 0:
            continue
        stop = line_count
        for later in functions[index + 1 :]:
            if later.start_line > function.label_line:
                stop = later.start_line
                break
        m = bisect_right(macro_lines, function.label_line)
        if m < len(macro_lines):  # a macro definition emits no code: the function ended before it
            stop = min(stop, macro_lines[m])
        s = bisect_right(section_lines, function.label_line)
        if s < len(section_lines) and function.kind != "macro":  # the macro may switch to .text itself
            stop = min(stop, section_lines[s])
        end = max(stop - 1, function.label_line)
        while end > function.label_line and not doc.lines[end].strip():
            end -= 1
        function.end_line = end

    _assign_labels(doc.labels, functions)
    return functions


def _inside(ranges: list[tuple[int, int]], line: int) -> bool:
    return any(start < line <= end for start, end in ranges)


def _past_cfi_endproc(doc: ParsedDocument, line: int) -> int:
    """clang puts `.cfi_endproc` after `.size`; it belongs to the function."""
    while True:
        following = doc.statements_on(line + 1)
        if following and all(s.name == ".cfi_endproc" for s in following):
            line += 1
        else:
            return line


def _preamble_start(doc: ParsedDocument, name: str, label_line: int) -> int:
    start = label_line
    while start > 0:
        statements = doc.statements_on(start - 1)
        if not statements:
            break
        for statement in statements:
            if statement.kind != "directive":
                return start
            if statement.name in _ALIGN_PREAMBLE:
                continue
            if statement.name in _NAMED_PREAMBLE and any(op.text == name for op in statement.operands):
                continue
            return start
        start -= 1
    return start


def _assign_labels(labels: list[LabelDef], functions: list[Function]) -> None:
    """Set each label's innermost enclosing function and fill ``local_labels``."""
    lines = [label.line for label in labels]
    for function in functions:  # sorted by start: a later (inner) one overwrites
        lo = bisect_left(lines, function.start_line)
        hi = bisect_right(lines, function.end_line)
        for label in labels[lo:hi]:
            if label.defined_by not in _MACRO_DEFINERS:  # a macro defined between functions is no part of either
                label.function = function.name
    by_name = {f.name: f for f in functions}
    own = {(f.name, f.label_line) for f in functions}
    for label in labels:
        if label.function is not None and (label.name, label.line) not in own:
            owner = by_name.get(label.function)
            if owner is not None:
                owner.local_labels.append(label)


def split_functions(text: str) -> list[FunctionText]:
    """Every function of an assembly file with its own source text.

    Each text runs from the first line of the function's preamble (adjacent
    ``.globl``/``.type``/``.p2align``) through its ``.size`` (plus clang's trailing
    ``.cfi_endproc``), lines joined with ``\\n``. Lines are 0-based, inclusive.
    """
    from .parser import parse

    doc = parse(text)
    return [
        FunctionText(f.name, f.start_line, f.end_line, "\n".join(doc.lines[f.start_line : f.end_line + 1]))
        for f in doc.functions
    ]
