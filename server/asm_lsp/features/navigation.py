"""Go to definition and find references for labels and functions across the workspace."""
from __future__ import annotations

from lsprotocol import types

from asm_lsp.features.positions import lsp_range
from asm_lsp.syntax import ParsedDocument
from asm_lsp.workspace.index import WorkspaceIndex


def symbol_at(doc: ParsedDocument, line: int, col: int) -> tuple[str, int | None] | None:
    """The symbol name under a (0-based line, code-point column), and for a numeric
    reference the line of the label it resolves to."""
    ref = doc.ref_at(line, col)
    if ref is not None:
        return ref.name, ref.target_line if ref.numeric else None
    label = doc.label_at(line, col)
    if label is not None:
        return label.name, label.line if label.kind == "numeric" else None
    return None


def invocation_at(doc: ParsedDocument, line: int, col: int) -> tuple[str, int, int] | None:
    """The name of the instruction (possibly a macro invocation) under the cursor, as
    written, with its columns: ``function`` in ``function f, export=1``, ``ENTRY`` in ``ENTRY(f)``."""
    for statement in doc.statements_on(line):
        if statement.kind == "instruction" and statement.name_start <= col <= statement.name_end:
            text = doc.lines[line][statement.name_start : statement.name_end]
            return text, statement.name_start, statement.name_end
    return None


def macro_at(index: WorkspaceIndex, doc: ParsedDocument, line: int, col: int) -> tuple[str, int, int] | None:
    """A macro invocation under the cursor whose ``.macro``/``#define`` is in the workspace."""
    found = invocation_at(doc, line, col)
    if found is None:
        return None
    name = found[0]
    if index.is_macro(name):
        return found
    lowered = name.lower()
    for macro_name in {m.name for _, m in index.macros() if m.kind == "macro" and m.name.lower() == lowered}:
        return (macro_name, found[1], found[2])  # GAS macro names have no case
    return None


def symbol_or_macro_at(index: WorkspaceIndex, doc: ParsedDocument, line: int, col: int) -> tuple[str, int | None] | None:
    """:func:`symbol_at`, else the macro whose invocation is under the cursor."""
    found = symbol_at(doc, line, col)
    if found is not None:
        return found
    macro = macro_at(index, doc, line, col)
    return (macro[0], None) if macro is not None else None


def definition(index: WorkspaceIndex, uri: str, doc: ParsedDocument, line: int, col: int) -> list[types.Location] | None:
    found = symbol_or_macro_at(index, doc, line, col)
    if found is None:
        return None
    name, numeric_line = found
    if name.isdigit():
        if numeric_line is None:
            return None
        label = next((d for d in doc.labels if d.line == numeric_line and d.name == name), None)
        if label is None:
            return None
        return [types.Location(uri=uri, range=lsp_range(doc.lines, label.line, label.start, label.end))]
    locations = []
    for def_uri, label in index.definitions(uri, name):
        def_doc = doc if def_uri == uri else index.get(def_uri)
        if def_doc is not None:
            locations.append(types.Location(uri=def_uri, range=lsp_range(def_doc.lines, label.line, label.start, label.end)))
    return locations or None


def references(index: WorkspaceIndex, uri: str, doc: ParsedDocument, line: int, col: int,
               include_declaration: bool) -> list[types.Location] | None:
    found = symbol_or_macro_at(index, doc, line, col)
    if found is None:
        return None
    name, numeric_line = found
    if name.isdigit():  # numeric labels: the definition and the refs that resolve to it
        places = [(d.line, d.start, d.end) for d in doc.labels if d.name == name and d.line == numeric_line and include_declaration]
        places += [(r.line, r.start, r.end) for r in doc.refs if r.name == name and r.target_line == numeric_line]
        return [types.Location(uri=uri, range=lsp_range(doc.lines, *p)) for p in places] or None
    locations = []
    for place in index.references(uri, name, include_declaration):
        place_doc = doc if place.uri == uri else index.get(place.uri)
        if place_doc is not None:
            locations.append(types.Location(uri=place.uri, range=lsp_range(place_doc.lines, place.line, place.start, place.end)))
    return locations or None
