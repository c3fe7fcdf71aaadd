"""Diagnostics: the real assembler's messages, plus the label checks GNU as leaves to the linker."""
from __future__ import annotations

from lsprotocol import types

from asm_lsp.assembler import AsmMessage
from asm_lsp.features.positions import lsp_range
from asm_lsp.syntax import ParsedDocument

SOURCE = "asm-lsp"


def _statement_span(doc: ParsedDocument, line: int) -> tuple[int, int]:
    """Columns of the code on ``line`` (no leading blanks, no trailing comment)."""
    on_line = [s for s in doc.statements if s.line == line]
    if on_line:
        return min(s.start for s in on_line), max(s.end for s in on_line)
    text = doc.lines[line] if 0 <= line < len(doc.lines) else ""
    start = len(text) - len(text.lstrip())
    return start, max(start, len(text.rstrip()))


def message_diagnostic(doc: ParsedDocument, message: AsmMessage, source: str) -> types.Diagnostic:
    line = min(message.line, max(0, len(doc.lines) - 1))
    start, end = _statement_span(doc, line)
    if message.column is not None and start <= message.column < end:
        start = message.column
    severity = types.DiagnosticSeverity.Error if message.severity == "error" else types.DiagnosticSeverity.Warning
    return types.Diagnostic(range=lsp_range(doc.lines, line, start, end), message=message.message,
                            severity=severity, source=source)


def label_diagnostics(doc: ParsedDocument) -> list[types.Diagnostic]:
    """References to ``.L`` labels this file never defines, and numeric refs with no target.

    GNU as accepts both and they fail only at link time, so we say so while typing.
    """
    defined = {d.name for d in doc.labels}
    found = []
    for ref in doc.refs:
        if ref.numeric and ref.target_line is None:
            message = f"numeric label reference '{ref.name}' has no matching label '{ref.name.rstrip('bf')}:'"
        elif not ref.numeric and ref.name.startswith(".L") and ref.name not in defined:
            message = f"local label '{ref.name}' is not defined in this file (GNU as accepts it; linking fails)"
        else:
            continue
        found.append(types.Diagnostic(range=lsp_range(doc.lines, ref.line, ref.start, ref.end), message=message,
                                      severity=types.DiagnosticSeverity.Error, source=SOURCE))
    return found


def build_diagnostics(doc: ParsedDocument, messages: list[AsmMessage], assembler_name: str) -> list[types.Diagnostic]:
    result = [message_diagnostic(doc, m, assembler_name) for m in messages]
    taken = {(d.range.start.line, d.message) for d in result}
    result += [d for d in label_diagnostics(doc) if (d.range.start.line, d.message) not in taken]
    result.sort(key=lambda d: (d.range.start.line, d.range.start.character))
    return result
