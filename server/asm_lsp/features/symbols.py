"""Document symbols (functions with their local labels), workspace symbols, folding."""
from __future__ import annotations

from lsprotocol import types

from asm_lsp.features.positions import line_range, lsp_range
from asm_lsp.syntax import ParsedDocument
from asm_lsp.workspace.index import WorkspaceIndex


def document_symbols(doc: ParsedDocument) -> list[types.DocumentSymbol]:
    """Functions (children: their local labels), then labels outside any function."""
    symbols: list[types.DocumentSymbol] = []
    in_function: set[tuple[int, int]] = set()
    outline = getattr(doc, "is_outline", False)  # a huge file: leave out its .L labels (syntax/outline.py)
    for function in doc.functions:
        name_line = function.label_line if function.label_line is not None else function.start_line
        head = next((d for d in doc.definitions(function.name) if d.line == name_line), None)  # indexed: no scan per function
        selection = (
            lsp_range(doc.lines, head.line, head.start, head.end) if head else line_range(doc.lines, name_line, name_line)
        )
        children = [
            types.DocumentSymbol(
                name=label.name,
                kind=types.SymbolKind.Key,
                range=lsp_range(doc.lines, label.line, label.start, label.end),
                selection_range=lsp_range(doc.lines, label.line, label.start, label.end),
            )
            for label in function.local_labels
        ]
        in_function.update((label.line, label.start) for label in function.local_labels)
        if head:
            in_function.add((head.line, head.start))
        symbols.append(
            types.DocumentSymbol(
                name=function.name,
                kind=types.SymbolKind.Function,
                range=line_range(doc.lines, function.start_line, function.end_line),
                selection_range=selection,
                detail=f"{function.end_line - function.start_line + 1} lines",
                children=children,
            )
        )
    for label in doc.labels:
        if (label.line, label.start) in in_function or label.kind == "numeric":
            continue
        if label.name.startswith(".L") and (doc.function_at(label.line) is not None or outline):
            continue
        kind = types.SymbolKind.Variable if label.kind != "local" else types.SymbolKind.Key
        where = lsp_range(doc.lines, label.line, label.start, label.end)
        symbols.append(types.DocumentSymbol(name=label.name, kind=kind, range=where, selection_range=where))
    symbols.sort(key=lambda s: (s.range.start.line, s.range.start.character))
    return symbols


def workspace_symbols(index: WorkspaceIndex, query: str) -> list[types.WorkspaceSymbol]:
    found: list[types.WorkspaceSymbol] = []
    for uri, label in index.symbols(query):
        doc = index.get(uri)
        if doc is None:
            continue
        is_function = label.function == label.name
        found.append(
            types.WorkspaceSymbol(
                name=label.name,
                kind=types.SymbolKind.Function if is_function else types.SymbolKind.Variable,
                location=types.Location(uri=uri, range=lsp_range(doc.lines, label.line, label.start, label.end)),
                container_name=None if is_function else label.function,
            )
        )
    return found


def folding_ranges(doc: ParsedDocument) -> list[types.FoldingRange]:
    """One fold per function that spans more than one line."""
    return [
        types.FoldingRange(start_line=f.start_line, end_line=f.end_line, kind=types.FoldingRangeKind.Region)
        for f in doc.functions
        if f.end_line > f.start_line
    ]
