"""Signature help: the reference forms of the instruction or directive under the cursor,
with the operand being typed highlighted (``docs/forms.py`` finds a form's operands)."""
from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from asm_lsp.docs import lookup_directive, lookup_mnemonic
from asm_lsp.docs.forms import form_operand_class, form_operands, operand_class
from asm_lsp.features.positions import to_utf16
from asm_lsp.syntax.operands import operand_context
from asm_lsp.syntax.semantic import _block_comment_open_at


def signature_help(lines: Sequence[str], line: int, col: int) -> types.SignatureHelp | None:
    """Signature help at a 0-based line and code-point column, or None outside operands."""
    if not 0 <= line < len(lines):
        return None
    text = lines[line]
    context = operand_context(text, col, _block_comment_open_at(lines, line) if "*/" in text else False)
    if context is None:
        return None
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
