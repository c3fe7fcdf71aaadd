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
    tokens = semantic_tokens(doc, first_line, last_line, function_names(index, uri))
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
    prefix = _common_length(old, new, size, lambda k: old[:k] == new[:k])
    limit = size - prefix
    suffix = _common_length(old, new, limit, lambda k: old[len(old) - k:] == new[len(new) - k:])
    prefix -= prefix % 5
    suffix -= suffix % 5
    return [types.SemanticTokensEdit(start=prefix, delete_count=len(old) - prefix - suffix,
                                     data=new[prefix:len(new) - suffix])]


def _common_length(old: list[int], new: list[int], limit: int, equal: Callable[[int], bool]) -> int:
    """The largest k <= limit with equal(k) (equal is monotone), by bisection of C-speed compares."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if equal(mid):
            low = mid
        else:
            high = mid - 1
    return low


@dataclass
class _Sent:
    result_id: str
    data: list[int]
    doc: ParsedDocument


class TokenResults:
    """The last full result sent per document, for ``full/delta`` and for answering a
    repeated request on an unchanged parse without recomputing."""

    def __init__(self) -> None:
        self._sent: dict[str, _Sent] = {}
        self._ids = itertools.count(1)

    def forget(self, uri: str) -> None:
        self._sent.pop(uri, None)

    def data_for(self, uri: str, doc: ParsedDocument, index: WorkspaceIndex) -> list[int]:
        sent = self._sent.get(uri)
        if sent is not None and sent.doc is doc:
            return sent.data
        return document_data(doc, index, uri)

    def full(self, uri: str, doc: ParsedDocument, index: WorkspaceIndex) -> Encoded:
        data = self.data_for(uri, doc, index)
        result_id = str(next(self._ids))
        self._sent[uri] = _Sent(result_id, data, doc)
        return Encoded(json.dumps({"resultId": result_id, "data": data}, separators=(",", ":")))

    def delta(self, uri: str, previous_id: str, doc: ParsedDocument, index: WorkspaceIndex) -> Encoded:
        sent = self._sent.get(uri)
        if sent is None or sent.result_id != previous_id:
            return self.full(uri, doc, index)  # the client asked about a result we no longer hold
        data = self.data_for(uri, doc, index)
        result_id = str(next(self._ids))
        edits = delta_edits(sent.data, data)
        self._sent[uri] = _Sent(result_id, data, doc)
        return Encoded(json.dumps({"resultId": result_id, "edits": [
            {"start": e.start, "deleteCount": e.delete_count, "data": e.data} for e in edits]},
            separators=(",", ":")))
