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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from asm_lsp.syntax import FunctionRole, LabelDef, Macro, ParsedDocument, macro_roles, parse, parse_bounded

log = logging.getLogger(__name__)

ASM_SUFFIXES = (".s", ".S", ".asm")
MAX_FILE_BYTES = 64 * 1024 * 1024  # files larger than this are not indexed from disk
#: Every this many files the scan moves what exists to the collector's permanent generation:
#: without it, full collections walk every document indexed so far, each one stopping all
#: threads (the event loop too) for up to ~0.5 s on a 5,000-file workspace.
FREEZE_EVERY = 200
#: ``LabelDef.defined_by`` of macro definitions (syntax/macros.py).
MACRO_DEFINERS = (".macro", "#define")
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
    invoked: frozenset[str] = frozenset()  # lowercased instruction names: macro invocations among them


class WorkspaceIndex:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._docs: dict[str, ParsedDocument] = {}
        self._names: dict[str, DocumentNames] = {}
        self._defs: dict[str, dict[str, list[LabelDef]]] = {}  # shared name -> uri -> defs
        self._ref_uris: dict[str, set[str]] = {}  # shared name -> uris that mention it
        self._invokers: dict[str, set[str]] = {}  # lowercased instruction name -> uris using it
        self._roles_by_uri: dict[str, dict[str, FunctionRole]] = {}  # function macros each file defines
        self._roles: dict[str, FunctionRole] = {}  # all of them (the first file's, by URI, on a clash)
        self._macro_uris: set[str] = set()  # documents that define macros
        self._role_uris: dict[str, list[str]] = {}  # function macro -> the files defining it, by URI
        #: ``(uri, lines) -> URIs of the files it includes`` (workspace/includes.py, set by the
        #: server): a name defined in several files resolves to the included file's definition.
        self.include_lookup: Callable[[str, Sequence[str]], list[str]] | None = None
        self._included: dict[str, tuple[ParsedDocument, list[str]]] = {}
        self._wanted: dict[str, dict[str, FunctionRole]] = {}  # the roles each document's last put wanted

    # -- updates -----------------------------------------------------------------
    def update(self, uri: str, text: str) -> ParsedDocument:
        doc = self.parse(text)
        self.put(uri, doc)
        return doc

    def parse(self, text: str, uri: str | None = None) -> ParsedDocument:
        """``parse_bounded`` with the workspace's function macros, those ``uri``'s last
        parse needed first (so that :meth:`put` seldom needs to parse again)."""
        with self._lock:
            roles = self._roles
            needed = self._wanted.get(uri) if uri is not None else None
        if needed:
            roles = {**roles, **needed}
        return parse_bounded(text, roles)

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
        invoked = frozenset({s.name for s in doc.statements if s.kind == "instruction"})
        return DocumentNames(shared, local, refs, invoked)

    def put(self, uri: str, doc: ParsedDocument, names: DocumentNames | None = None) -> None:
        """Index ``doc`` as ``uri``'s content (``names``: ``prepare(doc)``, if already made).

        Function macros defined in other files apply to ``doc``: when they differ from
        those it was parsed with, it is parsed again, in place (the object the caller
        holds sees the new functions). When ``doc`` defines new ones, the documents that
        invoke them are parsed again the same way.
        """
        if names is None:
            names = self.prepare(doc)
        with self._lock:
            self._forget(uri)
            self._record(uri, doc, names)
            own = macro_roles(doc)
            stale = [uri] if self._needs_reparse(uri, doc, names) else []
            if own != self._roles_by_uri.get(uri, {}):
                changed = set(own) | set(self._roles_by_uri.get(uri, {}))
                if own:
                    self._roles_by_uri[uri] = own
                else:
                    self._roles_by_uri.pop(uri, None)
                self._merge_roles()
                stale += self._stale_users(changed, skip=uri)
        for stale_uri in stale:
            self._reparse(stale_uri)

    def _merge_roles(self) -> None:
        merged: dict[str, FunctionRole] = {}
        role_uris: dict[str, list[str]] = {}
        for uri in sorted(self._roles_by_uri, reverse=True):
            merged.update(self._roles_by_uri[uri])
            for name in self._roles_by_uri[uri]:
                role_uris.setdefault(name, []).insert(0, uri)
        self._roles = merged
        self._role_uris = role_uris

    def _wanted_roles(self, uri: str, doc: ParsedDocument, names: DocumentNames) -> dict[str, FunctionRole]:
        """The other files' function macros ``doc`` invokes (its own definitions win; of
        several files defining one, an included file's, else the first by URI)."""
        if not self._roles or getattr(doc, "is_outline", False):
            return doc.external_roles
        own = {m.name.lower() for m in doc.macros}
        wanted = {}
        included: set[str] | None = None
        for name in names.invoked:
            if name not in self._roles or name in own:
                continue
            role = self._roles[name]
            definers = self._role_uris.get(name, [])
            if len(definers) > 1:
                if included is None:
                    included = set(self.included(uri))
                chosen = next((u for u in definers if u in included), None)
                if chosen is not None:
                    role = self._roles_by_uri[chosen][name]
            wanted[name] = role
        return wanted

    def _needs_reparse(self, uri: str, doc: ParsedDocument, names: DocumentNames) -> bool:
        """Whether the roles ``doc`` was parsed with differ from those it should have, for
        the macros it invokes."""
        if getattr(doc, "is_outline", False):
            return False
        wanted = self._wanted_roles(uri, doc, names)
        self._wanted[uri] = wanted
        own = {m.name.lower() for m in doc.macros}
        used = {n: r for n, r in doc.external_roles.items() if n in names.invoked and n not in own}
        return used != wanted

    def included(self, uri: str) -> list[str]:
        """URIs of the files ``uri`` includes, directly or not (cached per parse); [] without
        an include lookup."""
        lookup = self.include_lookup
        with self._lock:
            doc = self._docs.get(uri)
            cached = self._included.get(uri)
        if doc is None or lookup is None:
            return []
        if cached is not None and cached[0] is doc:
            return cached[1]
        try:
            found = list(lookup(uri, doc.lines))
        except Exception:  # noqa: BLE001 - an include problem must not break navigation
            log.exception("include lookup failed for %s", uri)
            found = []
        with self._lock:
            self._included[uri] = (doc, found)
        return found

    def _stale_users(self, changed: set[str], skip: str) -> list[str]:
        stale = set()
        for name in changed:
            for user in self._invokers.get(name, ()):
                doc, names = self._docs.get(user), self._names.get(user)
                if user != skip and doc is not None and names is not None and self._needs_reparse(user, doc, names):
                    stale.add(user)
        return sorted(stale)

    def _reparse(self, uri: str) -> None:
        """Parse ``uri``'s text again with the workspace's function macros, in place."""
        with self._lock:
            doc, names = self._docs.get(uri), self._names.get(uri)
            if doc is None or names is None:
                return
            roles = self._wanted_roles(uri, doc, names)
        fresh = parse("\n".join(doc.lines), roles)
        with self._lock:
            if self._docs.get(uri) is not doc:
                return  # replaced meanwhile
            vars(doc).update(vars(fresh))
            self._forget(uri)
            self._wanted[uri] = roles
            own = macro_roles(doc)
            if own != self._roles_by_uri.get(uri, {}):  # its own macros may build on the new roles
                if own:
                    self._roles_by_uri[uri] = own
                else:
                    self._roles_by_uri.pop(uri, None)
                self._merge_roles()
            names = self.prepare(doc)
            self._record(uri, doc, names)

    def remove(self, uri: str) -> None:
        with self._lock:
            self._forget(uri)
            stale = []
            gone = self._roles_by_uri.pop(uri, None)
            if gone:
                self._merge_roles()
                stale = self._stale_users(set(gone), skip=uri)
        for stale_uri in stale:
            self._reparse(stale_uri)

    def _record(self, uri: str, doc: ParsedDocument, names: DocumentNames) -> None:
        """File ``uri``'s parse and names in the maps (the inverse of :meth:`_forget`; lock held)."""
        self._docs[uri] = doc
        self._names[uri] = names
        for name, defs in names.shared.items():
            self._defs.setdefault(name, {})[uri] = defs
        for name in names.refs:
            self._ref_uris.setdefault(name, set()).add(uri)
        for name in names.invoked:
            self._invokers.setdefault(name, set()).add(uri)
        if doc.macros:
            self._macro_uris.add(uri)

    def _forget(self, uri: str) -> None:
        self._docs.pop(uri, None)
        self._included.pop(uri, None)
        self._wanted.pop(uri, None)
        self._macro_uris.discard(uri)
        old = self._names.pop(uri, None)
        if old is None:
            return
        for name in old.invoked:
            users = self._invokers.get(name)
            if users is not None:
                users.discard(uri)
                if not users:
                    del self._invokers[name]
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
            several = len(per_uri) > 1
        if several:  # an included file's definition is the one meant (each project has its own asm.S)
            included = set(self.included(uri))
            through_includes = [(u, d) for u, d in found if u in included]
            if through_includes:
                found = through_includes
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
        if self.is_macro(name):  # its invocations: `name args` or `NAME(args)`
            lowered = name.lower()
            with self._lock:
                users = sorted(self._invokers.get(lowered, ()))
                docs = [(u, self._docs[u]) for u in users if u in self._docs]
                definers = set(self._defs.get(name, {}))
            for u, doc in docs:
                places += [Place(u, s.line, s.name_start, s.name_end) for s in doc.statements
                           if s.name == lowered and s.kind == "instruction"]
            if len(definers) > 1 and self.include_lookup is not None:
                # Several projects define it: keep the definition `uri` resolves to and its users.
                meant = self.definitions(uri, name)
                target = meant[0][0] if meant else None
                if target is not None:
                    keep = {u for u in {p.uri for p in places}
                            if u == target or target in self.included(u) or u not in definers and u == uri}
                    places = [p for p in places if p.uri in keep]
        return places

    def is_macro(self, name: str) -> bool:
        """Whether a ``.macro`` or ``#define`` named ``name`` is in the workspace."""
        with self._lock:
            per_uri = self._defs.get(name, {})
            return any(d.defined_by in MACRO_DEFINERS for defs in per_uri.values() for d in defs)

    def macros(self) -> list[tuple[str, Macro]]:
        """Every macro of the workspace with its document's URI, by name."""
        with self._lock:
            docs = [(u, self._docs[u]) for u in sorted(self._macro_uris) if u in self._docs]
        found = [(u, m) for u, doc in docs for m in doc.macros]
        found.sort(key=lambda item: (item[1].name.lower(), item[0], item[1].line))
        return found

    def function_roles(self) -> dict[str, FunctionRole]:
        """The function macros defined in the workspace (lowercased name -> role)."""
        with self._lock:
            return dict(self._roles)

    def macro(self, uri: str, name: str) -> tuple[str, Macro] | None:
        """The macro ``name`` as seen from ``uri``: this file's definition first (the last
        one before use is GAS's, but any will do for hover), else the workspace's;
        ``.macro`` names match without case, as in GAS."""
        for def_uri, label in self.definitions(uri, name):
            if label.defined_by in MACRO_DEFINERS:
                doc = self.get(def_uri)
                found = next((m for m in doc.macros if m.line == label.line and m.start == label.start), None) if doc else None
                if found is not None:
                    return def_uri, found
        lowered = name.lower()
        for def_uri, macro in self.macros():
            if macro.kind == "macro" and macro.name.lower() == lowered:
                return def_uri, macro
        return None

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
                    doc = index.parse(read_text(path))
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
