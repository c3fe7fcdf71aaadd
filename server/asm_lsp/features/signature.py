"""Signature help: the reference forms of the instruction or directive under the cursor,
with the operand being typed highlighted (``docs/forms.py`` finds a form's operands)."""
from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from asm_lsp.docs import lookup_directive, lookup_mnemonic
from asm_lsp.docs.forms import form_operand_class, form_operands, operand_class
from asm_lsp.features.positions import to_utf16
from asm_lsp.syntax import Macro
from asm_lsp.syntax.operands import operand_context
from asm_lsp.syntax.semantic import block_comment_open_at

#: Documents up to this many lines are scanned from the top for a `/*` still open.
BLOCK_SCAN_LINES = 200_000


def signature_help(lines: Sequence[str], line: int, col: int,
                   macros: Sequence[tuple[str, Macro]] = ()) -> types.SignatureHelp | None:
    """Signature help at a 0-based line and code-point column, or None outside operands.
    ``macros``: (file name, definition) of the macros the document can use, its own first;
    an invocation of one shows its parameters."""
    if not 0 <= line < len(lines):
        return None
    text = lines[line]
    # A `/*` left open above makes the line (or its start) a comment; huge files skip the scan.
    in_block = block_comment_open_at(lines, line) if len(lines) <= BLOCK_SCAN_LINES else False
    context = operand_context(text, col, in_block)
    if context is None:
        return None
    if context.kind == "instruction":
        found = next(((f, m) for f, m in macros if m.kind == "macro" and m.name.lower() == context.name), None)
        if found is not None:  # a macro named like an instruction is what GAS expands
            return _macro_help(found[1], found[0], context.index)
    if context.kind == "directive":
        doc = lookup_directive(context.name)
    else:
        doc = lookup_mnemonic(context.name)
    if doc is None or not doc.forms:
        return None
    signatures = []
    scores = []
    for form in doc.forms:
        spans = form_operands(form)
        parameters = [types.ParameterInformation(label=(to_utf16(form, a), to_utf16(form, b))) for a, b in spans]
        active = context.index if context.index < len(spans) else len(spans)
        signatures.append(types.SignatureInformation(
            label=form, documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc.summary),
            parameters=parameters, active_parameter=active))
        scores.append(_score(form, spans, context.operands + (context.current,), context.index))
    best = max(range(len(signatures)), key=lambda i: (scores[i], -i))
    return types.SignatureHelp(signatures=signatures, active_signature=best, active_parameter=context.index)


def _score(form: str, spans: list[tuple[int, int]], written: tuple[str, ...], index: int) -> int:
    """How well a form fits what is written: forms too short for the cursor's operand lose,
    then each written operand of a class the form accepts counts one."""
    if index >= len(spans):
        return -1000
    score = 0
    for text, (a, b) in zip(written, spans):
        kind = operand_class(text)  # the operand under the cursor may be empty: no class
        if kind and kind in form_operand_class(form[a:b]):
            score += 1
    return score


def _macro_help(macro: Macro, where: str, index: int) -> types.SignatureHelp:
    """``.macro NAME a, b=1``'s parameters, the one at ``index`` active."""
    label = macro.name
    parameters = []
    for n, param in enumerate(macro.params or ()):
        label += (" " if n == 0 else ", ")
        start = to_utf16(label, len(label))
        label += param.signature()
        parameters.append(types.ParameterInformation(label=(start, to_utf16(label, len(label)))))
    active = index if index < len(parameters) else len(parameters)
    body = f"`.macro` defined in {where} line {macro.line + 1}"
    return types.SignatureHelp(signatures=[types.SignatureInformation(
        label=label, documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=body),
        parameters=parameters, active_parameter=active)], active_signature=0, active_parameter=index)
