"""Workspace function index: one unit vector per function, top-k cosine queries in numpy.

Pure: no LSP, no llama_cpp. Thread-safe. Rows live in one growing float32 matrix; a
document update marks its old rows dead (zeroed, so they can never rank above a live
row with a positive score, and are skipped anyway) and the matrix is compacted when
more than half of it is dead. A query is one matrix-vector product plus argpartition:
a few ms over 10,000 functions of 896 dimensions on an idle core (bench/embed_figures.py
measures it under load).

Lines are the syntax layer's: 0-based.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from asm_lsp.syntax import normalize_function, split_functions
from asm_lsp.syntax.outline import OUTLINE_CHARS, OUTLINE_LINES, needs_outline

from .store import text_sha

log = logging.getLogger(__name__)
_noted_too_big: set[str] = set()  # documents already logged as too big to embed


@dataclass(frozen=True)
class FunctionEntry:
    """One function of a document: ``line`` is its ``name:`` label line (0-based)."""

    uri: str
    name: str
    line: int
    start_line: int
    end_line: int
    sha: str  # sha256 of ``text``
    text: str  # normalised (normalize_function): no comments, .loc/.cfi, own name = FUNC


class Similar(NamedTuple):
    uri: str
    name: str
    line: int  # 0-based line of the function's label
    score: float  # cosine similarity


def extract_functions(uri: str, text: str) -> list[FunctionEntry]:
    """The document's functions with their normalised text (what gets embedded).

    A text the server only outlines (``syntax.outline.needs_outline``: over 2,000,000
    characters or 100,000 lines) gives none, with one log note per document: the full
    parse took ~86 s and 1.7 GB on a 50 MB buffer, and its ~100,000 functions would keep
    the one background embedding thread busy for days (~8 tokens/s, bench/results/embed_figures.md).
    """
    if needs_outline(text):
        if uri not in _noted_too_big:
            _noted_too_big.add(uri)
            log.info("%s (%d characters) is not embedded for similar functions: documents over %d characters "
                     "or %d lines are only outlined", uri, len(text), OUTLINE_CHARS, OUTLINE_LINES)
        return []
    entries = []
    for fn in split_functions(text):
        normalized = normalize_function(fn.text, fn.name)
        if not normalized.strip():
            continue
        label_line = fn.start_line
        for offset, line in enumerate(fn.text.split("\n")):
            if line.lstrip().startswith(fn.name + ":"):
                label_line = fn.start_line + offset
                break
        entries.append(FunctionEntry(uri, fn.name, label_line, fn.start_line, fn.end_line,
                                     text_sha(normalized), normalized))
    return entries


class FunctionIndex:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._docs: dict[str, list[FunctionEntry]] = {}
        self._rows: dict[tuple[str, str], int] = {}  # (uri, name) -> row in _matrix
        self._row_entries: list[FunctionEntry | None] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._dim = 0
        self._raw: dict[tuple[str, str], np.ndarray] = {}
        self._dead = 0

    # ------------------------------------------------------------ documents

    def set_document(self, uri: str, entries: list[FunctionEntry]) -> None:
        """Replace ``uri``'s functions; vectors of functions whose text is unchanged are kept."""
        with self._lock:
            old = {(e.name, e.sha): self._raw.get((uri, e.name)) for e in self._docs.get(uri, [])}
            self._drop_rows(uri)
            names: set[str] = set()  # a name defined twice keeps its first function
            entries = [e for e in entries if not (e.name in names or names.add(e.name))]
            self._docs[uri] = entries
            for entry in entries:
                vec = old.get((entry.name, entry.sha))
                if vec is not None:
                    self._add_row(entry, vec)

    def remove_document(self, uri: str) -> None:
        with self._lock:
            self._drop_rows(uri)
            self._docs.pop(uri, None)

    def set_vectors(self, vectors: dict[str, np.ndarray]) -> int:
        """Attach vectors (by text sha) to every function that has that text; how many got one."""
        added = 0
        with self._lock:
            for entries in self._docs.values():
                for entry in entries:
                    vec = vectors.get(entry.sha)
                    if vec is not None and (entry.uri, entry.name) not in self._rows:
                        self._add_row(entry, vec)
                        added += 1
        return added

    # ------------------------------------------------------------ reading

    def documents(self) -> list[str]:
        with self._lock:
            return list(self._docs)

    def entries(self, uri: str | None = None) -> list[FunctionEntry]:
        with self._lock:
            if uri is not None:
                return list(self._docs.get(uri, []))
            return [e for entries in self._docs.values() for e in entries]

    def entry(self, uri: str, name: str) -> FunctionEntry | None:
        with self._lock:
            for e in self._docs.get(uri, []):
                if e.name == name:
                    return e
        return None

    def entry_at(self, uri: str, line: int) -> FunctionEntry | None:
        """The function whose lines hold 0-based ``line`` (innermost = shortest span)."""
        with self._lock:
            hits = [e for e in self._docs.get(uri, []) if e.start_line <= line <= e.end_line]
        return min(hits, key=lambda e: e.end_line - e.start_line) if hits else None

    def missing(self) -> list[FunctionEntry]:
        """Functions still without a vector (one entry per distinct text)."""
        with self._lock:
            seen: set[str] = set()
            out = []
            for entries in self._docs.values():
                for e in entries:
                    if (e.uri, e.name) not in self._rows and e.sha not in seen:
                        seen.add(e.sha)
                        out.append(e)
            return out

    def needs(self, sha: str) -> bool:
        with self._lock:
            return any(e.sha == sha and (e.uri, e.name) not in self._rows
                       for entries in self._docs.values() for e in entries)

    def counts(self) -> tuple[int, int]:
        """(functions with a vector, all functions)."""
        with self._lock:
            return len(self._rows), sum(len(v) for v in self._docs.values())

    def vector(self, uri: str, name: str) -> np.ndarray | None:
        """The raw (not normalised) vector, or None while it is not computed."""
        with self._lock:
            return self._raw.get((uri, name))

    def query(self, vector: np.ndarray, k: int, exclude: Iterable[tuple[str, str]] = ()) -> list[Similar]:
        """Top-``k`` functions by cosine similarity to ``vector``, best first."""
        q = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(q))
        if norm == 0.0 or k <= 0:
            return []
        q = q / norm
        skip = set(exclude)
        with self._lock:
            n = len(self._row_entries)
            if n == 0 or q.shape[0] != self._dim:
                return []
            # einsum, not @: OpenBLAS's threaded gemv stalls when the cores are busy (10,000 x 896
            # on 2 loaded cores: median 27 ms with @, 16 ms with einsum's single-thread SIMD loop).
            scores = np.einsum("ij,j->i", self._matrix[:n], q)
            want = min(n, k + len(skip) + self._dead)
            top = np.argpartition(-scores, want - 1)[:want] if want < n else np.arange(n)
            top = top[np.argsort(-scores[top], kind="stable")]
            out: list[Similar] = []
            for row in top:
                entry = self._row_entries[row]
                if entry is None or (entry.uri, entry.name) in skip:
                    continue
                out.append(Similar(entry.uri, entry.name, entry.line, float(scores[row])))
                if len(out) == k:
                    break
            return out

    def similar(self, uri: str, name: str, k: int) -> list[Similar] | None:
        """Functions most like ``name`` in ``uri`` (itself excluded); None while its vector is missing."""
        vec = self.vector(uri, name)
        if vec is None:
            return None
        return self.query(vec, k, exclude=[(uri, name)])

    # ------------------------------------------------------------ rows

    def _add_row(self, entry: FunctionEntry, vec: np.ndarray) -> None:
        raw = np.asarray(vec, dtype=np.float32).reshape(-1)
        if self._dim == 0:
            self._dim = raw.shape[0]
            self._matrix = np.zeros((256, self._dim), dtype=np.float32)
        if raw.shape[0] != self._dim:
            return  # a vector of another model: ignore rather than corrupt the matrix
        row = len(self._row_entries)
        if row == self._matrix.shape[0]:
            grown = np.zeros((2 * row, self._dim), dtype=np.float32)
            grown[:row] = self._matrix
            self._matrix = grown
        norm = float(np.linalg.norm(raw))
        self._matrix[row] = raw / norm if norm > 0 else 0.0
        self._row_entries.append(entry)
        self._rows[(entry.uri, entry.name)] = row
        self._raw[(entry.uri, entry.name)] = raw

    def _drop_rows(self, uri: str) -> None:
        for entry in self._docs.get(uri, []):
            row = self._rows.pop((uri, entry.name), None)
            self._raw.pop((uri, entry.name), None)
            if row is not None:
                self._row_entries[row] = None
                self._matrix[row] = 0.0
                self._dead += 1
        if self._dead > 64 and self._dead * 2 > len(self._row_entries):
            self._compact()

    def _compact(self) -> None:
        live = [r for r, e in enumerate(self._row_entries) if e is not None]
        matrix = np.zeros((max(256, 2 * len(live)), self._dim), dtype=np.float32)
        matrix[:len(live)] = self._matrix[live]
        self._matrix = matrix
        self._row_entries = [self._row_entries[r] for r in live]
        self._rows = {(e.uri, e.name): r for r, e in enumerate(self._row_entries) if e is not None}
        self._dead = 0
