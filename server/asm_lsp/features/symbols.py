"""Document symbols (functions with their local labels, macros), workspace symbols, folding."""
from __future__ import annotations

from lsprotocol import types

from asm_lsp.features.positions import line_range, lsp_range
from asm_lsp.syntax import LabelDef, ParsedDocument
from asm_lsp.workspace.index import MACRO_DEFINERS, WorkspaceIndex


def label_kind(label: LabelDef, doc: ParsedDocument | None = None) -> types.SymbolKind:
    """The symbol kind of a definition that is not a function: a ``.macro`` or function-like
    ``#define`` is an Operator (LSP has no macro kind), a ``#define`` constant a Constant."""
    if label.defined_by == ".macro":
        return types.SymbolKind.Operator
    if label.defined_by == "#define":
        macro = _macro_of(doc, label) if doc is not None else None
        return types.SymbolKind.Operator if macro is not None and macro.params is not None else types.SymbolKind.Constant
    return types.SymbolKind.Variable if label.kind != "local" else types.SymbolKind.Key


def _macro_of(doc: ParsedDocument, label: LabelDef):
    return next((m for m in doc.macros if m.line == label.line and m.start == label.start), None)


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
        kind = label_kind(label, doc)
        where = lsp_range(doc.lines, label.line, label.start, label.end)
        detail = None
        if label.defined_by in MACRO_DEFINERS:
            macro = _macro_of(doc, label)
            if macro is not None:  # the whole definition, so that the outline follows the cursor into it
                detail = macro.signature()[:80]
                if macro.end_line > macro.line:
                    where = line_range(doc.lines, macro.line, min(macro.end_line, len(doc.lines) - 1))
        symbols.append(types.DocumentSymbol(name=label.name, kind=kind, range=where, detail=detail,
                                            selection_range=lsp_range(doc.lines, label.line, label.start, label.end)))
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
                kind=types.SymbolKind.Function if is_function else label_kind(label, doc),
                location=types.Location(uri=uri, range=lsp_range(doc.lines, label.line, label.start, label.end)),
                container_name=None if is_function else label.function,
            )
        )
    return found


def folding_ranges(doc: ParsedDocument) -> list[types.FoldingRange]:
    """One fold per function and per block (``.macro``, ``.irp``, ``.irpc``, ``.rept``, ``.if``,
    multi-line ``#define``) that spans more than one line; a range is folded once."""
    spans = [(f.start_line, f.end_line) for f in doc.functions]
    spans += [(b.start_line, b.end_line) for b in doc.blocks]
    seen: set[tuple[int, int]] = set()
    folds = []
    for start, end in sorted(spans):
        if end > start and (start, end) not in seen:
            seen.add((start, end))
            folds.append(types.FoldingRange(start_line=start, end_line=end, kind=types.FoldingRangeKind.Region))
    return folds
