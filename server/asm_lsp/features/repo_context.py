"""``completion.repoContext``: the repo-level block (asm_lsp.model.repo_context) for a cursor.

Sources, both already in memory (nothing here parses, embeds or reads a file):
- callees: the workspace index's definitions of the symbols the function around the cursor
  uses (``WorkspaceIndex.definitions``: the same file first, then the workspace);
- the similar function: the embeddings index's nearest function in another file, when the
  function around the cursor is embedded already (``index.embeddings``); never waited for.

One block per function: the similar function is looked up once per (document, function)
and kept, and callees are in order of first use, so the block stays the same while the
user types inside the function and llama.cpp keeps its KV cache (the block is the prompt's
start). Cost: a bisect into the parse's references and a few dict lookups (<1 ms measured
in tests/test_repo_context.py on a 20,000-line file).
"""
from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asm_lsp.model.repo_context import (MAX_CALLEES, definition_excerpt, repo_context, window_symbols)
from asm_lsp.syntax import ParsedDocument

# Cosine of the embeddings index below which the nearest function is not worth its tokens.
# The shipped embedder puts unrelated functions of one workspace at ~0.3-0.6 and another
# build of the same function at ~0.9 (bench/results/repo_context.md measures the cases).
SIMILAR_MIN_SCORE = 0.6
# A definition in the same file this close to the function is in the prompt's window already
# (prompt budgets: ~45 lines before the cursor, ~12 after).
NEAR_LINES_BEFORE = 48
NEAR_LINES_AFTER = 16
_SIMILAR_CACHE = 512  # (document, function) pairs remembered


def _uri_path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


class RepoContext:
    """Builds the block for a cursor from a workspace index and (optionally) an embeddings index.

    ``document(uri)``: the parse of a document (the open buffer's latest, else the index's);
    ``index``: asm_lsp.workspace.index.WorkspaceIndex; ``similar_index()``: the embeddings
    FunctionIndex or None (it may start later); ``roots``: workspace folders, for paths.
    """

    def __init__(self, document: Callable[[str], ParsedDocument | None], index: Any,
                 similar_index: Callable[[], Any] = lambda: None,
                 roots: Callable[[], list[Path]] = lambda: []) -> None:
        self.document = document
        self.index = index
        self.similar_index = similar_index
        self.roots = roots
        self._similar: OrderedDict[tuple[str, str], tuple[str, str] | None] = OrderedDict()
        self._lock = threading.Lock()

    def display_path(self, uri: str) -> str:
        path = _uri_path(uri)
        for root in self.roots():
            try:
                return Path(path).relative_to(root).as_posix()
            except ValueError:
                continue
        return Path(path).name

    def repo_name(self) -> str:
        roots = self.roots()
        return roots[0].name if roots else ""

    def block(self, uri: str, line: int, col: int) -> str:
        """The block for the cursor at (0-based line, code-point col) of ``uri``; "" outside a
        function, or when nothing is known about its callees and neighbours."""
        doc = self.document(uri)
        if doc is None:
            return ""
        function = doc.function_at(line)
        if function is None:
            return ""
        callees = self._callees(uri, doc, function, line, col)
        similar = self._similar_to(uri, function.name)
        if not callees and similar is None:
            return ""
        return repo_context(self.repo_name(), self.display_path(uri), [similar] if similar else [], callees)

    def _callees(self, uri: str, doc: ParsedDocument, function: Any, line: int, col: int) -> list[tuple[str, str]]:
        lo, hi = function.start_line, function.end_line
        refs = doc.refs[bisect.bisect_left(doc.refs, lo, key=lambda r: r.line):
                        bisect.bisect_right(doc.refs, hi, key=lambda r: r.line)]
        labels = doc.labels[bisect.bisect_left(doc.labels, lo, key=lambda d: d.line):
                            bisect.bisect_right(doc.labels, hi, key=lambda d: d.line)]
        names = window_symbols([(r.name, r.line, r.start) for r in refs
                                if not r.numeric and not r.name.startswith(".L")],
                               [(d.name, d.line, d.start) for d in labels if d.kind in ("global", "symbol")],
                               (lo, 0), (line, col), (line, col), hi, MAX_CALLEES)
        out = []
        for name in names:
            found = self.index.definitions(uri, name) if self.index is not None else []
            if not found and doc.definitions(name):  # the open buffer's own, not indexed yet
                found = [(uri, doc.definitions(name)[0])]
            if not found:
                continue
            where, label = found[0]
            if where == uri and lo - NEAR_LINES_BEFORE <= label.line <= hi + NEAR_LINES_AFTER:
                continue
            lines_of = doc if where == uri else self.index.get(where)
            if lines_of is None:
                continue
            excerpt = definition_excerpt(lines_of.lines, label.line)
            if excerpt:
                out.append((self.display_path(where), excerpt))
        return out

    def _similar_to(self, uri: str, name: str) -> tuple[str, str] | None:
        key = (uri, name)
        with self._lock:
            if key in self._similar:
                self._similar.move_to_end(key)
                return self._similar[key]
        index = self.similar_index()
        hits = index.similar(uri, name, 4) if index is not None else None
        if hits is None:  # not embedded yet: ask again next time, never wait
            return None
        found = None
        for hit in hits:
            if hit.uri == uri or hit.score < SIMILAR_MIN_SCORE:
                continue
            other = self.document(hit.uri) if self.index is None else (self.index.get(hit.uri) or self.document(hit.uri))
            function = other.function_at(hit.line) if other is not None else None
            if function is not None:
                found = (self.display_path(hit.uri),
                         "\n".join(other.lines[function.start_line:function.end_line + 1]))
                break
        with self._lock:
            self._similar[key] = found
            while len(self._similar) > _SIMILAR_CACHE:
                self._similar.popitem(last=False)
        return found
