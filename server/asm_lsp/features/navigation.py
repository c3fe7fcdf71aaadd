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


def definition(index: WorkspaceIndex, uri: str, doc: ParsedDocument, line: int, col: int) -> list[types.Location] | None:
    found = symbol_at(doc, line, col)
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
    found = symbol_at(doc, line, col)
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
