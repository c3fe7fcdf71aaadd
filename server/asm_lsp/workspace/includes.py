"""``#include`` and ``.include``: where the included files are, for navigation, hover,
macros across files and the preprocessor that diagnostics run.

Search order for a name (the first folder that holds it wins):

1. the including file's folder (what cpp does for ``"..."``);
2. the ``-I``/``-isystem`` folders of the workspace's ``compile_commands.json`` entry for
   the file (see :mod:`asm_lsp.workspace.compile_commands`; read, never run), then the
   user's ``asmLsp.assembler.includePaths``;
3. without a match there: the file's ancestor folders up to its workspace root, the other
   roots, and last any folder of the workspace under which the name exists (a project
   that includes ``libavutil/aarch64/asm.S`` from its root, or a generated ``config.h``
   in a build folder).

Pure: no LSP imports, never raises; reads files, runs nothing. Lines are 0-based,
columns code points.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asm_lsp.workspace.compile_commands import (CompileDatabase, CompileFlags, find_databases,
                                                load_database)

log = logging.getLogger(__name__)

_INCLUDE = re.compile(r'^(?P<lead>\s*)(?P<directive>#\s*include|\.include)\s*(?:"(?P<quoted>[^"\n]*)"|<(?P<angled>[^>\n]*)>)',
                      re.I)
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"}
MAX_WALK_FILES = 200_000  # the workspace name map stops here (a kernel tree has ~80,000 files)
MAX_SCAN_BYTES = 2 * 1024 * 1024  # included files bigger than this are not scanned for their includes
MAX_SCAN_FILES = 200  # included files scanned per document, transitively
WALK_REFRESH_S = 120.0  # a miss rebuilds the name map at most this often (a kernel tree: ~1 s)
DATABASE_REFRESH_S = 2.0  # look for new compile databases (a build just configured) this often


@dataclass(frozen=True)
class IncludeDirective:
    """One include line: the file name's span (without quotes), as written."""

    line: int
    start: int
    end: int
    name: str
    directive: str  # "#include" | ".include"
    system: bool  # <name>

    @property
    def preprocessor(self) -> bool:
        return self.directive == "#include"


def parse_include(text: str, line: int) -> IncludeDirective | None:
    """The include directive on one line of text, or None."""
    match = _INCLUDE.match(text)
    if match is None:
        return None
    group = "quoted" if match.group("quoted") is not None else "angled"
    directive = "#include" if match.group("directive").startswith("#") else ".include"
    name = match.group(group)
    if not name.strip():
        return None
    return IncludeDirective(line, match.start(group), match.end(group), name, directive, group == "angled")


def find_includes(lines: Sequence[str]) -> list[IncludeDirective]:
    """Every include directive in ``lines`` (in order)."""
    found = []
    for number, text in enumerate(lines):
        if "include" in text:
            directive = parse_include(text, number)
            if directive is not None:
                found.append(directive)
    return found


def include_at(lines: Sequence[str], line: int, col: int) -> IncludeDirective | None:
    """The include directive whose file name (or directive word) is under the cursor."""
    if not 0 <= line < len(lines):
        return None
    directive = parse_include(lines[line], line)
    if directive is None:
        return None
    leading = len(lines[line]) - len(lines[line].lstrip())
    return directive if leading <= col <= directive.end + 1 else None


@dataclass(frozen=True)
class MissingInclude:
    """A name no search folder holds. ``line`` is the buffer's include line leading to it;
    ``via`` the chain of included files in between (empty when the buffer includes it)."""

    name: str
    line: int
    start: int
    end: int
    via: tuple[str, ...] = ()


@dataclass
class SearchPlan:
    """How to preprocess / assemble one document so that its includes are found."""

    cpp_args: list[str] = field(default_factory=list)  # for the C preprocessor (.S)
    as_args: list[str] = field(default_factory=list)  # for the assembler (.include)
    database: Path | None = None  # the compile_commands.json used, if any
    missing: list[MissingInclude] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # included files found, transitively


class IncludeResolver:
    """Include search for one workspace; safe to call from several threads."""

    def __init__(self, roots: Sequence[Path] = (), include_paths: Sequence[str] = (),
                 defines: Sequence[str] = ()) -> None:
        self.roots = [Path(os.path.abspath(r)) for r in roots]
        base = self.roots[0] if self.roots else Path.cwd()
        self.include_paths = [os.path.normpath(str(base / p)) for p in include_paths if p.strip()]
        self.defines = [f"-D{d}" for d in defines if d.strip() and not d.startswith("-")]
        self._lock = threading.Lock()
        self._databases: dict[Path, tuple[float, CompileDatabase | None]] = {}
        self._database_paths: list[Path] | None = None
        self._databases_found = 0.0
        self._names: dict[str, list[str]] | None = None  # basename -> folders holding it
        self._names_built = 0.0

    # -- compile_commands.json ---------------------------------------------------------
    def database(self, file: Path) -> CompileDatabase | None:
        """The first compile database of the workspace with flags for ``file``."""
        with self._lock:
            stale = time.monotonic() - self._databases_found > DATABASE_REFRESH_S
            if self._database_paths is None or stale:  # a build folder may be configured meanwhile
                before, self._database_paths = self._database_paths, find_databases(self.roots)
                self._databases_found = time.monotonic()
                if self._database_paths != before:
                    log.info("compile databases: %s", ", ".join(map(str, self._database_paths)))
            paths = list(self._database_paths)
        for path in paths:
            database = self._load(path)
            if database is not None and database.flags_for(file) is not None:
                return database
        return None

    def _load(self, path: Path) -> CompileDatabase | None:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        with self._lock:
            cached = self._databases.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        database = load_database(path)
        with self._lock:
            self._databases[path] = (mtime, database)
        return database

    def forget_databases(self) -> None:
        """Look for compile databases again on the next request (one was created or removed)."""
        with self._lock:
            self._database_paths = None

    def flags_for(self, file: Path) -> tuple[CompileFlags, Path | None]:
        """The compile database's flags for ``file`` (or none) and the database's path."""
        database = self.database(file)
        flags = database.flags_for(file) if database is not None else None
        return (flags or CompileFlags()), (database.path if database is not None else None)

    # -- resolving ----------------------------------------------------------------------
    def search_dirs(self, flags: CompileFlags) -> list[str]:
        """The configured folders: the database's ``-I``/``-isystem``, then the user's."""
        return [*flags.include_dirs, *flags.system_dirs, *self.include_paths]

    def resolve(self, including: Path, name: str, system: bool = False) -> Path | None:
        """Where ``name`` included from ``including`` is, or None."""
        flags, _ = self.flags_for(including)
        found = _first_holding(name, ([] if system else [str(including.parent)]) + self.search_dirs(flags))
        if found is None:
            found = self._fallback(including, name)
        return Path(found) / name if found is not None else None

    def _fallback(self, including: Path, name: str) -> str | None:
        """A folder holding ``name`` found without configuration (see the module docstring)."""
        if os.path.isabs(name):
            return "/" if os.path.isfile(name) else None
        folders = [str(p) for p in _ancestors(including, self.roots)] + [str(r) for r in self.roots]
        found = _first_holding(name, folders)
        if found is not None:
            return found
        return self._search_workspace(including, name)

    def _search_workspace(self, including: Path, name: str) -> str | None:
        parts = Path(name).parts
        if not parts or ".." in parts:
            return None
        for attempt in range(2):
            holders = [d for d in self._name_map(rebuild=attempt == 1).get(parts[-1], ())
                       if _holds(d, parts)]
            if holders:
                # The holder nearest the including file (the longest shared path) wins.
                here = str(including.parent)
                best = max(holders, key=lambda d: (len(os.path.commonpath([here, d])), -len(d)))
                return str(Path(best).parents[len(parts) - 2]) if len(parts) > 1 else best
        return None

    def _name_map(self, rebuild: bool = False) -> dict[str, list[str]]:
        with self._lock:
            fresh = self._names is not None and (not rebuild or time.monotonic() - self._names_built < WALK_REFRESH_S)
            if fresh:
                return self._names  # type: ignore[return-value]
        names: dict[str, list[str]] = {}
        count = 0
        for root in self.roots:
            for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
                dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
                for filename in filenames:
                    names.setdefault(filename, []).append(dirpath)
                count += len(filenames)
                if count >= MAX_WALK_FILES:
                    break
        with self._lock:
            self._names, self._names_built = names, time.monotonic()
        return names

    # -- a document's includes, transitively ------------------------------------------------
    def plan(self, file: Path, text: str) -> SearchPlan:
        """Arguments that let the preprocessor (``.S``) or the assembler find what ``text``
        (the unsaved buffer of ``file``) includes, and what no folder holds.

        A missing name may sit in a branch of ``#if`` that is never taken: the preprocessor
        decides; ``missing`` explains a failure it reports.
        """
        flags, database = self.flags_for(file)
        configured = self.search_dirs(flags)
        extra: list[str] = []  # folders found without configuration, in the order found
        missing: list[MissingInclude] = []
        files: list[Path] = []
        seen: set[str] = set()
        # (lines of a file, that file, the buffer's include line leading here, the chain)
        queue: list[tuple[Sequence[str], Path, IncludeDirective | None, tuple[str, ...]]] = [
            (text.splitlines(), file, None, ())]
        while queue and len(seen) < MAX_SCAN_FILES:
            lines, current, top, via = queue.pop(0)
            for directive in find_includes(lines):
                origin = top or directive
                folders = ([] if directive.system else [str(current.parent)]) + configured + extra
                holder = _first_holding(directive.name, folders)
                if holder is None:
                    holder = self._fallback(current, directive.name)
                    if holder is not None and holder not in extra:
                        extra.append(holder)
                if holder is None:
                    # <...> may well be the compiler's own header; a name is reported once
                    if not directive.system and all(m.name != directive.name for m in missing):
                        missing.append(MissingInclude(directive.name, origin.line, origin.start, origin.end, via))
                    continue
                path = Path(os.path.normpath(os.path.join(holder, directive.name)))
                key = str(path)
                if key in seen:
                    continue
                seen.add(key)
                files.append(path)
                try:
                    if path.stat().st_size > MAX_SCAN_BYTES:
                        continue
                    included = path.read_bytes().decode("utf-8", "replace").splitlines()
                except OSError:
                    continue
                queue.append((included, path, origin, via + (_shown(path, self.roots),)))
        folder = str(file.parent)
        dirs = [folder] + [d for d in [*configured, *extra] if d != folder]
        cpp_args = [f"-iquote{folder}", *flags.args(), *[f"-I{d}" for d in self.include_paths + extra],
                    *self.defines]
        as_args = [f"-I{d}" for d in dirs]
        return SearchPlan(cpp_args, as_args, database, missing, files)

    def included_files(self, file: Path, text: str) -> list[Path]:
        """The files ``text`` includes, directly or not, that exist (for macros across files)."""
        return self.plan(file, text).files


def _shown(path: Path, roots: Sequence[Path]) -> str:
    for root in roots:
        try:
            return str(path.relative_to(root))
        except ValueError:
            continue
    return str(path)


def _holds(folder: str, parts: tuple[str, ...]) -> bool:
    """Does ``folder`` (holding the last part) end with the name's folder parts?"""
    if len(parts) == 1:
        return True
    return Path(folder).parts[-(len(parts) - 1):] == parts[:-1]


def _first_holding(name: str, folders: Iterable[str]) -> str | None:
    if os.path.isabs(name):
        return "/" if os.path.isfile(name) else None
    for folder in folders:
        if os.path.isfile(os.path.join(folder, name)):
            return folder
    return None


def _ancestors(file: Path, roots: Sequence[Path]) -> list[Path]:
    """``file``'s folder and its parents up to the workspace root that holds it (none
    outside a root: an editor may open any file, and / is no search path)."""
    folder = Path(os.path.abspath(file)).parent
    root = next((r for r in roots if folder == r or r in folder.parents), None)
    if root is None:
        return [folder]
    found = [folder]
    while found[-1] != root:
        found.append(found[-1].parent)
    return found
