"""The workspace's symbols across every .s/.S file: definitions, references, functions.

Pure: no LSP imports. Documents are identified by URI strings. All positions are the
syntax layer's (0-based lines, code-point columns). Thread-safe: the background scan
and the event loop both update it.
"""
from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from asm_lsp.syntax import LabelDef, ParsedDocument, parse_bounded

log = logging.getLogger(__name__)

ASM_SUFFIXES = (".s", ".S", ".asm")
MAX_FILE_BYTES = 64 * 1024 * 1024  # files larger than this are not indexed from disk
#: Every this many files the scan moves what exists to the collector's permanent generation:
#: without it, full collections walk every document indexed so far, each one stopping all
#: threads (the event loop too) for up to ~0.5 s on a 5,000-file workspace.
FREEZE_EVERY = 200
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"}


@dataclass(frozen=True)
class Place:
    """A span in a document: ``uri``, 0-based ``line``, code-point columns ``start``..``end``."""

    uri: str
    line: int
    start: int
    end: int


def is_file_local(name: str) -> bool:
    """Names that never leave their file: ``.L`` assembler-local and numeric labels."""
    return name.startswith(".L") or name.isdigit()


def read_text(path: Path) -> str:
    """Read a file as text, never failing on bad bytes (undecodable bytes become U+FFFD)."""
    return path.read_bytes().decode("utf-8", "replace")


@dataclass
class DocumentNames:
    """What the index keeps of one document, made by :meth:`WorkspaceIndex.prepare`."""

    shared: dict[str, list[LabelDef]]  # definitions of names other files can see
    local: dict[str, list[LabelDef]]  # ``.L`` definitions (numeric labels are left out)
    refs: set[str]  # names other files can see that this one mentions


class WorkspaceIndex:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._docs: dict[str, ParsedDocument] = {}
        self._names: dict[str, DocumentNames] = {}
        self._defs: dict[str, dict[str, list[LabelDef]]] = {}  # shared name -> uri -> defs
        self._ref_uris: dict[str, set[str]] = {}  # shared name -> uris that mention it

    # -- updates -----------------------------------------------------------------
    def update(self, uri: str, text: str) -> ParsedDocument:
        doc = parse_bounded(text)
        self.put(uri, doc)
        return doc

    @staticmethod
    def prepare(doc: ParsedDocument) -> DocumentNames:
        """The index's view of ``doc``; slow for big documents, so callers may run it on
        a worker thread and hand the result to :meth:`put` (which is then quick: file-local
        names, the bulk of compiler output, go in as one dict)."""
        shared: dict[str, list[LabelDef]] = {}
        local: dict[str, list[LabelDef]] = {}
        for label in doc.labels:
            if label.kind != "numeric":
                (local if is_file_local(label.name) else shared).setdefault(label.name, []).append(label)
        refs = {ref.name for ref in doc.refs if not ref.numeric and not is_file_local(ref.name)}
        return DocumentNames(shared, local, refs)

    def put(self, uri: str, doc: ParsedDocument, names: DocumentNames | None = None) -> None:
        """Index ``doc`` as ``uri``'s content (``names``: ``prepare(doc)``, if already made)."""
        if names is None:
            names = self.prepare(doc)
        with self._lock:
            self._forget(uri)
            self._docs[uri] = doc
            self._names[uri] = names
            for name, defs in names.shared.items():
                self._defs.setdefault(name, {})[uri] = defs
            for name in names.refs:
                self._ref_uris.setdefault(name, set()).add(uri)

    def remove(self, uri: str) -> None:
        with self._lock:
            self._forget(uri)

    def _forget(self, uri: str) -> None:
        self._docs.pop(uri, None)
        old = self._names.pop(uri, None)
        if old is None:
            return
        for name in old.shared:
            per_uri = self._defs.get(name)
            if per_uri is not None:
                per_uri.pop(uri, None)
                if not per_uri:
                    del self._defs[name]
        for name in old.refs:
            uris = self._ref_uris.get(name)
            if uris is not None:
                uris.discard(uri)
                if not uris:
                    del self._ref_uris[name]

    # -- queries -----------------------------------------------------------------
    def get(self, uri: str) -> ParsedDocument | None:
        with self._lock:
            return self._docs.get(uri)

    def uris(self) -> list[str]:
        with self._lock:
            return list(self._docs)

    def __len__(self) -> int:
        return len(self._docs)

    def definitions(self, uri: str, name: str) -> list[tuple[str, LabelDef]]:
        """Where ``name`` (as used in ``uri``) is defined: the same file first, then the workspace.

        ``.L`` and numeric labels are file-local; a symbol defined in this file resolves
        here (it shadows others at link time for local symbols, and is usually the
        one meant); otherwise every definition in the workspace, global ones first.
        """
        with self._lock:
            if is_file_local(name):
                names = self._names.get(uri)
                return [(uri, d) for d in (names.local.get(name, []) if names else [])]
            per_uri = self._defs.get(name, {})
            here = per_uri.get(uri, [])
            if here:
                return [(uri, d) for d in here]
            found = [(u, d) for u, defs in per_uri.items() for d in defs]
        found.sort(key=lambda item: (item[1].kind != "global", item[0], item[1].line))
        return found

    def references(self, uri: str, name: str, include_declaration: bool = True) -> list[Place]:
        """Every use of ``name`` visible from ``uri`` (file-local names stay in their file)."""
        with self._lock:
            if is_file_local(name):
                uris: Iterable[str] = [uri]
            else:
                uris = sorted(self._ref_uris.get(name, set()) | set(self._defs.get(name, {})))
            docs = [(u, self._docs[u]) for u in uris if u in self._docs]
        places: list[Place] = []
        for u, doc in docs:
            if include_declaration:
                places += [Place(u, d.line, d.start, d.end) for d in doc.labels if d.name == name]
            places += [Place(u, r.line, r.start, r.end) for r in doc.refs if r.name == name and not r.numeric]
        return places

    def functions(self) -> Iterator[tuple[str, ParsedDocument, int]]:
        """(uri, document, function index) for every function in the workspace."""
        with self._lock:
            docs = list(self._docs.items())
        for uri, doc in docs:
            for i in range(len(doc.functions)):
                yield uri, doc, i

    def symbols(self, query: str, limit: int = 500) -> list[tuple[str, LabelDef]]:
        """Non-local labels whose name contains ``query`` (case-insensitive), functions first."""
        needle = query.lower()
        with self._lock:
            matches = [
                (uri, d)
                for name, per_uri in self._defs.items()
                if not is_file_local(name) and needle in name.lower()
                for uri, defs in per_uri.items()
                for d in defs
            ]
        matches.sort(key=lambda item: (item[1].function != item[1].name, item[1].name, item[0]))
        return matches[:limit]


def find_asm_files(roots: Iterable[Path], limit: int) -> list[Path]:
    """Assembly files under ``roots`` (no symlinked directories, no VCS/vendor dirs)."""
    found: list[Path] = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
            for filename in sorted(filenames):
                if filename.endswith(ASM_SUFFIXES):
                    found.append(Path(dirpath) / filename)
                    if len(found) >= limit:
                        return found
    return found


def scan_files(
    index: WorkspaceIndex,
    files: list[tuple[str, Path]],
    skip: Callable[[str], bool] = lambda uri: False,
    cancelled: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Parse and index ``files`` ((uri, path) pairs); returns how many were indexed.

    ``skip(uri)`` is true for documents the editor has open (their buffer wins).
    Unreadable or oversized files are logged and left out.
    """
    done = 0
    for n, (uri, path) in enumerate(files, 1):
        if cancelled():
            break
        if not skip(uri):
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    log.warning("not indexing %s: larger than %d bytes", path, MAX_FILE_BYTES)
                else:
                    doc = parse_bounded(read_text(path))
                    if not skip(uri):
                        index.put(uri, doc)
                        done += 1
            except OSError as exc:
                log.warning("not indexing %s: %s", path, exc)
        if n % FREEZE_EVERY == 0:
            gc.freeze()
        if n % 20 == 0 or n == len(files):
            progress(n, len(files))
    return done
