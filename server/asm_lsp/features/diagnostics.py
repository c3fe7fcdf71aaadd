"""Diagnostics: the real assembler's messages, plus the label checks GNU as leaves to the linker.

Includes are searched as :mod:`asm_lsp.workspace.includes` says (compile_commands.json,
settings, then the folders that hold them). When an included file still cannot be found
(a header the build generates, say), the file gets ONE information-level diagnostic that
says what is missing and how to provide it, and no assembler errors: they would follow
from the missing file, not from the user's code.
"""
from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from asm_lsp.assembler import Assembler, AssembleResult, AsmMessage, IncludeFailure, assemble
from asm_lsp.features.positions import lsp_range
from asm_lsp.syntax import ParsedDocument
from asm_lsp.workspace.compile_commands import DATABASE_NAME
from asm_lsp.workspace.includes import IncludeResolver, SearchPlan, parse_include

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


def assemble_document(asm: Assembler, resolver: IncludeResolver, path: Path | None, text: str,
                      timeout_s: float) -> tuple[AssembleResult, SearchPlan | None]:
    """Assemble the buffer ``text`` of the file at ``path`` (None: unsaved, no folder) with
    its include search; ``.S`` goes through the C preprocessor. Blocking: run it in a thread."""
    preprocess = path is not None and path.suffix in (".S", ".sx")
    if path is None:
        return assemble(asm, text, preprocess, None, timeout_s), None
    plan = resolver.plan(path, text)
    return assemble(asm, text, preprocess, path.parent, timeout_s, plan.cpp_args, plan.as_args), plan


def include_message(failure: IncludeFailure, plan: SearchPlan | None) -> str:
    """What is missing and how to provide it, in one message."""
    database = plan.database if plan is not None else None
    if failure.missing is None:
        return (f"this file was not assembled: the preprocessor stopped in an included file ({failure.message}). "
                "Give it the build's defines: asmLsp.assembler.defines, or the build's "
                f"{DATABASE_NAME} (meson and CMake write it when the project is configured).")
    via = next((m.via for m in (plan.missing if plan else []) if m.name == failure.missing and m.via), ())
    where = f" (included from {via[-1]})" if via else ""
    head = f"{failure.missing}{where} was not found, so this file was not assembled."
    if database is not None:
        return (f"{head} {database} names no folder that holds it: if the build makes it, build the project "
                "once; or add its folder to asmLsp.assembler.includePaths.")
    return (f"{head} If the build makes it (config.h often is), configure the project once: meson and CMake "
            f"then write {DATABASE_NAME}, which asm-lsp reads from the workspace root or a subfolder such as "
            "build/. Or add its folder to asmLsp.assembler.includePaths.")


def include_diagnostic(doc: ParsedDocument, failure: IncludeFailure, plan: SearchPlan | None) -> types.Diagnostic:
    """The one information-level diagnostic for a file whose includes cannot be satisfied."""
    line = min(max(0, failure.line), max(0, len(doc.lines) - 1))
    directive = parse_include(doc.lines[line], line) if doc.lines else None
    start, end = (directive.start, directive.end) if directive is not None else _statement_span(doc, line)
    return types.Diagnostic(range=lsp_range(doc.lines, line, start, end), message=include_message(failure, plan),
                            severity=types.DiagnosticSeverity.Information, source=SOURCE)


def build_diagnostics(doc: ParsedDocument, messages: list[AsmMessage], assembler_name: str,
                      failure: IncludeFailure | None = None, plan: SearchPlan | None = None) -> list[types.Diagnostic]:
    if failure is not None:
        return [include_diagnostic(doc, failure, plan)]
    result = [message_diagnostic(doc, m, assembler_name) for m in messages]
    taken = {(d.range.start.line, d.message) for d in result}
    result += [d for d in label_diagnostics(doc) if (d.range.start.line, d.message) not in taken]
    result.sort(key=lambda d: (d.range.start.line, d.range.start.character))
    return result
