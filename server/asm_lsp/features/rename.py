"""Rename and prepareRename of labels and symbols across the workspace.

Scope (``syntax/rename.py`` has the name rules):
- ``.L`` labels are assembler-local: their definition and every reference in their file.
- numeric labels: the definition under (or resolved from) the cursor and the references
  that resolve to it, in that file.
- a symbol defined here without ``.globl``/``.weak`` is private to this file's object: this
  file only.
- any other symbol: every file of the workspace index that defines or references it,
  except files that define a private (non-global) symbol of the same name.
- a macro (``.macro``/``#define``): its definition and invocations wherever the index
  resolves them (through ``.include``); a function a macro invocation defines
  (``function f, export=1``) is renamed in that argument like any label, unless the
  macro builds the name from a template, which is refused.
Refusals are JSON-RPC errors (RequestFailed) whose message says why.
"""
from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from asm_lsp.features.navigation import macro_at, symbol_at
from asm_lsp.features.positions import from_utf16, lsp_range
from asm_lsp.syntax import ParsedDocument, token_at
from asm_lsp.syntax.rename import Span, name_problem, numeric_problem, numeric_spans, symbol_spans
from asm_lsp.workspace.index import WorkspaceIndex, is_file_local

_KIND_WORDS = {"mnemonic": "an instruction mnemonic", "register": "a register", "directive": "a directive",
               "number": "a number", "other": "a keyword"}


class RenameRefused(JsonRpcException):
    """A rename the server will not do; the message is shown to the user."""

    CODE = types.LSPErrorCodes.RequestFailed.value


def _position(doc: ParsedDocument, position: types.Position) -> tuple[int, int]:
    lines = doc.lines
    if not 0 <= position.line < len(lines) or position.character < 0:
        raise RenameRefused(f"position {position.line + 1}:{position.character + 1} is outside the document "
                            f"({len(lines)} lines)")
    return position.line, from_utf16(lines[position.line], position.character)


def _target(doc: ParsedDocument, line: int, col: int,
            index: WorkspaceIndex | None = None) -> tuple[str, int | None, Span]:
    """The name under the cursor, the line of a numeric label's definition, and the span
    of the name as written there; refuses anything that is not a label, symbol or macro."""
    found = symbol_at(doc, line, col)
    if found is None and index is not None:
        macro = macro_at(index, doc, line, col)  # an invocation of a workspace macro
        if macro is not None:
            return macro[0], None, Span(line, macro[1], macro[2])
    if found is None:
        token = token_at(doc.lines[line], col)
        if token is not None and token.kind in _KIND_WORDS:
            raise RenameRefused(f"'{token.text}' is {_KIND_WORDS[token.kind]}; only labels and symbols can be renamed")
        raise RenameRefused(f"no label or symbol at line {line + 1}, column {col + 1}")
    name, numeric_line = found
    ref = doc.ref_at(line, col)
    if ref is not None:
        span = Span(line, ref.start, ref.end - (1 if ref.numeric else 0))
    else:
        label = doc.label_at(line, col)
        span = Span(line, label.start, label.end)
    if name.isdigit() and numeric_line is None:
        raise RenameRefused(f"'{doc.lines[line][span.start:span.end + 1]}' refers to no '{name}:' label in this file")
    return name, numeric_line, span


def prepare_rename(doc: ParsedDocument, position: types.Position,
                   index: WorkspaceIndex | None = None) -> types.PrepareRenamePlaceholder:
    line, col = _position(doc, position)
    name, _, span = _target(doc, line, col, index)
    return types.PrepareRenamePlaceholder(range=lsp_range(doc.lines, span.line, span.start, span.end),
                                          placeholder=name)


def rename(index: WorkspaceIndex, uri: str, doc: ParsedDocument, position: types.Position,
           new_name: str) -> types.WorkspaceEdit:
    line, col = _position(doc, position)
    name, numeric_line, _ = _target(doc, line, col, index)
    new_name = new_name.strip() if isinstance(new_name, str) else ""
    problem = name_problem(name, new_name)
    if problem:
        raise RenameRefused(problem)
    if new_name == name:
        return types.WorkspaceEdit(changes={})
    if numeric_line is not None:
        problem = numeric_problem(doc, name, numeric_line, new_name)
        if problem:
            raise RenameRefused(problem)
        return _edit({uri: (doc, numeric_spans(doc, name, numeric_line))}, new_name)

    files = _files_for(index, uri, doc, name)
    if not any(d.name == name for _, d_doc in files for d in d_doc.labels):
        raise RenameRefused(f"'{name}' is not defined in the workspace (an external symbol); "
                            "renaming it would only change its uses")
    for file_uri, file_doc in files:
        defined = file_doc.definitions(new_name)
        if defined:
            raise RenameRefused(f"'{new_name}' is already defined in {_short(file_uri)} line {defined[0].line + 1}")
    for file_uri, file_doc in files:
        used = next((r for r in file_doc.refs if r.name == new_name and not r.numeric), None)
        if used is not None:
            raise RenameRefused(f"'{new_name}' is already used in {_short(file_uri)} line {used.line + 1} "
                                "(another symbol of that name)")
    if len(files) > 1 or _is_global(doc, name):  # a global: no other global may have the new name
        for def_uri, label in index.definitions(uri, new_name):
            def_doc = index.get(def_uri)
            if def_doc is not None and _is_global(def_doc, new_name):
                raise RenameRefused(f"'{new_name}' is already a global symbol in {_short(def_uri)} "
                                    f"line {label.line + 1}")
    return _edit(_places(index, uri, doc, name, files), new_name)


def _places(index: WorkspaceIndex, uri: str, doc: ParsedDocument, name: str,
            files: list[tuple[str, ParsedDocument]]) -> dict[str, tuple[ParsedDocument, list[Span]]]:
    """Where ``name`` is written in ``files``: its definitions and references, and the
    invocations of a macro (the index knows those). A name that a macro makes from a
    template (``function \\type\\()_neon``) is not written as such anywhere: refused."""
    docs = dict(files)
    spans: dict[str, set[Span]] = {u: set(symbol_spans(d, name)) for u, d in files}
    for place in index.references(uri, name, include_declaration=True):
        if place.uri in docs:
            spans[place.uri].add(Span(place.line, place.start, place.end))
    lowered = name.lower()
    for file_uri, found in spans.items():
        lines = docs[file_uri].lines
        for span in found:
            written = lines[span.line][span.start : span.end] if 0 <= span.line < len(lines) else ""
            if written.strip('"') != name and written.lower() != lowered:
                raise RenameRefused(f"'{name}' is not written as such in {_short(file_uri)} line {span.line + 1} "
                                    f"('{written}': a macro makes the name); rename it there by hand")
    return {u: (docs[u], sorted(found, key=lambda sp: (sp.line, sp.start))) for u, found in spans.items()}


def _files_for(index: WorkspaceIndex, uri: str, doc: ParsedDocument, name: str) -> list[tuple[str, ParsedDocument]]:
    """The documents a rename of ``name`` (as seen from ``uri``) edits."""
    macro = index.is_macro(name)  # a macro reaches the files that include its definition
    if is_file_local(name) or (not macro and doc.definitions(name) and not _is_global(doc, name)):
        return [(uri, doc)]
    uris = sorted({place.uri for place in index.references(uri, name, include_declaration=True)} | {uri})
    files = []
    for file_uri in uris:
        file_doc = doc if file_uri == uri else index.get(file_uri)
        if file_doc is None:
            continue
        if file_uri != uri and not macro and file_doc.definitions(name) and not _is_global(file_doc, name):
            continue  # that file's own private symbol of the same name
        files.append((file_uri, file_doc))
    return files


def _is_global(doc: ParsedDocument, name: str) -> bool:
    return name in doc.globals or name in doc.weak


def _short(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def _edit(places: dict[str, tuple[ParsedDocument, list[Span]]], new_name: str) -> types.WorkspaceEdit:
    changes: dict[str, Sequence[types.TextEdit]] = {}
    for file_uri, (file_doc, spans) in places.items():
        if spans:
            changes[file_uri] = [types.TextEdit(range=lsp_range(file_doc.lines, s.line, s.start, s.end),
                                                new_text=new_name) for s in spans]
    return types.WorkspaceEdit(changes=changes)
