"""Semantic tokens: the syntax layer's tokens in LSP's encoding (UTF-16 columns, deltas).

``syntax/semantic.py`` decides what each word is (and documents the type mapping); this
module turns its ``(line, start, end, type, modifiers)`` tuples into the flat integer
list of ``textDocument/semanticTokens`` (five integers a token: line delta, start delta,
length, type, modifiers) and answers ``full/delta`` with one edit: the span between the
common prefix and suffix of the last result sent and the new one.
"""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lsprotocol import types

from asm_lsp.features.positions import to_utf16
from asm_lsp.robust_io import Encoded
from asm_lsp.syntax import ParsedDocument
from asm_lsp.syntax.semantic import TOKEN_MODIFIERS, TOKEN_TYPES, SemanticToken, semantic_tokens
from asm_lsp.workspace.index import WorkspaceIndex, is_file_local

LEGEND = types.SemanticTokensLegend(token_types=list(TOKEN_TYPES), token_modifiers=list(TOKEN_MODIFIERS))


def full_allowed(doc: ParsedDocument) -> bool:
    """Whole-document tokens for parsed documents; an outline (over 2 MB or 100,000 lines,
    syntax/outline.py) gets tokens for ranges only, parsed line by line."""
    return not getattr(doc, "is_outline", False)


def encode(lines: Sequence[str], tokens: list[SemanticToken]) -> list[int]:
    """LSP's relative encoding of ``tokens`` (code-point columns become UTF-16 columns)."""
    data: list[int] = []
    extend = data.extend
    previous_line = previous_start = 0
    current = -1
    ascii_line = True
    text = ""
    for line, start, end, token_type, modifiers in tokens:
        if line != current:
            current = line
            text = lines[line]
            ascii_line = text.isascii()
        if not ascii_line:
            start, end = to_utf16(text, start), to_utf16(text, end)
        if line == previous_line:
            extend((0, start - previous_start, end - start, token_type, modifiers))
        else:
            extend((line - previous_line, start, end - start, token_type, modifiers))
            previous_line = line
        previous_start = start
    return data


def function_names(index: WorkspaceIndex, uri: str) -> Callable[[str], bool]:
    """Whether a name this document does not define is a function somewhere in the workspace."""
    def is_function(name: str) -> bool:
        if is_file_local(name):
            return False
        return any(label.function == label.name for _, label in index.definitions(uri, name))
    return is_function


def document_data(doc: ParsedDocument, index: WorkspaceIndex, uri: str,
                  first_line: int = 0, last_line: int | None = None) -> list[int]:
    macros = {m.name.lower() for _, m in index.macros() if m.kind == "macro"}
    tokens = semantic_tokens(doc, first_line, last_line, function_names(index, uri), macros)
    return encode(doc.lines, tokens)


def range_lines(doc: ParsedDocument, rng: types.Range) -> tuple[int, int] | None:
    """The 0-based lines a range request covers (clamped), or None when it lies past the end."""
    count = len(doc.lines)
    first = max(0, rng.start.line)
    last = min(count - 1, rng.end.line - (1 if rng.end.character == 0 and rng.end.line > rng.start.line else 0))
    if first >= count or last < first:
        return None
    return first, last


def delta_edits(old: list[int], new: list[int]) -> list[types.SemanticTokensEdit]:
    """One edit that turns ``old`` into ``new`` (none when equal), on whole-token boundaries."""
    if old == new:
        return []
    size = min(len(old), len(new))
    prefix = _common_prefix(old, new, size)
    suffix = _common_prefix(old[::-1], new[::-1], size - prefix)
    prefix -= prefix % 5
    suffix -= suffix % 5
    return [types.SemanticTokensEdit(start=prefix, delete_count=len(old) - prefix - suffix,
                                     data=new[prefix:len(new) - suffix])]


def _common_prefix(old: list[int], new: list[int], limit: int, chunk: int = 4096) -> int:
    """The length of the common prefix (at most ``limit``): chunks compared at C speed,
    then the first differing chunk element by element."""
    i = 0
    while i < limit and old[i:i + chunk] == new[i:i + chunk]:
        i += chunk
    end = min(i + chunk, limit)
    while i < end and old[i] == new[i]:
        i += 1
    return min(i, limit)


@dataclass
class _Sent:
    result_id: str
    data: list[int]
    doc: ParsedDocument | None  # None once invalidated: the next request makes them again
    encoded: Encoded | None = None  # made when a full request asks for it


class TokenResults:
    """The last full result sent per document, for ``full/delta`` and for answering a
    repeated request on an unchanged parse without recomputing; and tokens made ahead
    (:meth:`prepare`, after an edit's parse) for the request the client sends next.
    Thread-safe: the server calls it from worker threads for big documents."""

    def __init__(self) -> None:
        self._sent: dict[str, _Sent] = {}
        self._ready: dict[str, tuple[ParsedDocument, list[int]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._all = threading.Lock()
        self._ids = itertools.count(1)

    def forget(self, uri: str) -> None:
        self._sent.pop(uri, None)
        self._ready.pop(uri, None)

    def invalidate(self) -> bool:
        """Forget the tokens made (the workspace changed how names classify); the results
        sent stay, as the base of the next delta. True if any were sent."""
        with self._all:
            self._ready.clear()
            for sent in self._sent.values():
                sent.doc = None
                sent.encoded = None
        return bool(self._sent)

    def wanted(self, uri: str) -> bool:
        """Whether the client has asked for this document's tokens (so edits may prepare them)."""
        return uri in self._sent

    def prepare(self, uri: str, doc: ParsedDocument, index: WorkspaceIndex) -> None:
        self._data(uri, doc, index)

    def _data(self, uri: str, doc: ParsedDocument, index: WorkspaceIndex) -> list[int]:
        """The encoded tokens of this parse: made once (a request arriving while they are
        being prepared waits for them instead of making them again)."""
        with self._locks.setdefault(uri, threading.Lock()):
            ready = self._ready.get(uri)
            if ready is not None and ready[0] is doc:
                return ready[1]
            data = document_data(doc, index, uri)
            self._ready[uri] = (doc, data)
            return data

    def full(self, uri: str, doc: ParsedDocument, index: WorkspaceIndex) -> Encoded:
        sent = self._sent.get(uri)
        if sent is None or sent.doc is not doc:
            sent = self._sent[uri] = _Sent(str(next(self._ids)), self._data(uri, doc, index), doc)
        if sent.encoded is None:  # the same parse gets the same answer, under the same result id
            sent.encoded = Encoded(json.dumps({"resultId": sent.result_id, "data": sent.data}, separators=(",", ":")))
        return sent.encoded

    def delta(self, uri: str, previous_id: str, doc: ParsedDocument, index: WorkspaceIndex) -> Encoded:
        sent = self._sent.get(uri)
        if sent is None or sent.result_id != previous_id:
            return self.full(uri, doc, index)  # the client asked about a result we no longer hold
        if sent.doc is doc:
            return Encoded(json.dumps({"resultId": sent.result_id, "edits": []}))
        data = self._data(uri, doc, index)
        result_id = str(next(self._ids))
        edits = delta_edits(sent.data, data)
        self._sent[uri] = _Sent(result_id, data, doc)
        return Encoded(json.dumps({"resultId": result_id, "edits": [
            {"start": e.start, "deleteCount": e.delete_count, "data": e.data} for e in edits]},
            separators=(",", ":")))
