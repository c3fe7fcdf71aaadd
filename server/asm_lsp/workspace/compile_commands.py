"""Include paths and defines from a workspace's ``compile_commands.json``: read, never run.

meson and CMake write a compile database in the build folder, with an entry for every
``.S`` file they assemble. From each entry's ``arguments`` (or ``command``, split like a
shell would, never given to one) we keep only ``-I``, ``-isystem``, ``-D``, ``-U`` and
``-include``: the program the entry names is never run, and no other flag is passed on.
Paths become absolute (relative ones are relative to the entry's ``directory``), so that
no value can be read as an option. Pure: no LSP imports; never raises.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DATABASE_NAME = "compile_commands.json"
MAX_DATABASE_BYTES = 64 * 1024 * 1024  # a kernel's database is ~30 MB
_ASM_SUFFIXES = (".s", ".S", ".sx", ".asm")
#: A -D/-U value must start with a macro name (so it can never read as another option).
_MACRO = re.compile(r"-[DU][A-Za-z_]\w*(\([\w\s,.]*\))?(=.*)?", re.S)


@dataclass(frozen=True)
class CompileFlags:
    """What one entry says about finding files and predefined macros (absolute paths)."""

    include_dirs: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    macros: tuple[str, ...] = ()  # "-DNAME=VALUE" / "-UNAME", in their order
    forced_includes: tuple[str, ...] = ()

    def args(self) -> list[str]:
        """The preprocessor arguments: every value joined to its option or an absolute path."""
        out = [f"-I{d}" for d in self.include_dirs] + [f"-isystem{d}" for d in self.system_dirs]
        out += list(self.macros)
        for path in self.forced_includes:
            out += ["-include", path]
        return out


def split_command(command: str) -> list[str]:
    """A ``command`` string split as a POSIX shell would split words (nothing is expanded)."""
    try:
        return shlex.split(command)
    except ValueError:  # an unbalanced quote: whitespace is the best we can do
        return command.split()


def _absolute(value: str, directory: Path) -> str:
    return os.path.normpath(str(directory / value)) if not os.path.isabs(value) else os.path.normpath(value)


def flags_from_arguments(arguments: Sequence[str], directory: Path) -> CompileFlags:
    """Keep ``-I``/``-isystem``/``-D``/``-U``/``-include`` from one entry's argument list."""
    include_dirs: list[str] = []
    system_dirs: list[str] = []
    macros: list[str] = []
    forced: list[str] = []
    args = list(arguments)
    i = 1  # arguments[0] is the compiler: never looked at again
    while i < len(args):
        arg = args[i]
        value: str | None = None
        for option, target in (("-isystem", system_dirs), ("-include", forced), ("-I", include_dirs)):
            if arg == option and i + 1 < len(args):
                value, i = args[i + 1], i + 1
            elif arg.startswith(option) and arg != option and not (option == "-I" and arg == "-I-"):
                value = arg[len(option):]
            else:
                continue
            target.append(_absolute(value, directory))
            break
        else:
            for option in ("-D", "-U"):
                if arg == option and i + 1 < len(args):
                    value, i = option + args[i + 1], i + 1
                elif arg.startswith(option) and len(arg) > 2:
                    value = arg
                else:
                    continue
                if _MACRO.fullmatch(value) and (option == "-D" or "=" not in value):
                    macros.append(value)
        i += 1
    return CompileFlags(tuple(include_dirs), tuple(system_dirs), tuple(macros), tuple(forced))


@dataclass(frozen=True)
class CompileDatabase:
    """The entries of one ``compile_commands.json`` by absolute source path."""

    path: Path
    entries: dict[str, CompileFlags]

    def flags_for(self, file: Path) -> CompileFlags | None:
        """The file's own entry; else an assembly entry in its folder (a file that is only
        included, such as a project's ``asm.S``, has none of its own); else the first
        assembly entry; else None."""
        key = os.path.normpath(str(file))
        if key in self.entries:
            return self.entries[key]
        folder = os.path.dirname(key)
        same_folder = [f for p, f in self.entries.items() if os.path.dirname(p) == folder]
        if same_folder:
            return same_folder[0]
        assembly = [f for p, f in self.entries.items() if p.endswith(_ASM_SUFFIXES)]
        return assembly[0] if assembly else None


def load_database(path: Path) -> CompileDatabase | None:
    """Read ``path``; None (logged) when it is unreadable, too big or not a list of entries."""
    try:
        if path.stat().st_size > MAX_DATABASE_BYTES:
            log.warning("%s is over %d MB; not read", path, MAX_DATABASE_BYTES >> 20)
            return None
        data = json.loads(path.read_bytes().decode("utf-8", "replace"))
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None
    if not isinstance(data, list):
        log.warning("%s is not a list of entries; not used", path)
        return None
    entries: dict[str, CompileFlags] = {}
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            continue
        directory = Path(entry["directory"]) if isinstance(entry.get("directory"), str) else path.parent
        if not directory.is_absolute():
            directory = path.parent / directory
        arguments = entry.get("arguments")
        if isinstance(arguments, list) and all(isinstance(a, str) for a in arguments):
            args = arguments
        elif isinstance(entry.get("command"), str):
            args = split_command(entry["command"])
        else:
            continue
        entries.setdefault(_absolute(entry["file"], directory), flags_from_arguments(args, directory))
    return CompileDatabase(path, entries)


def find_databases(roots: Iterable[Path]) -> list[Path]:
    """``compile_commands.json`` in each root and its direct subfolders (``build*`` first)."""
    found: list[Path] = []
    for root in roots:
        candidates = [root / DATABASE_NAME]
        try:
            subdirs = sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")),
                             key=lambda d: (not d.name.startswith("build"), d.name))
        except OSError:
            subdirs = []
        candidates += [d / DATABASE_NAME for d in subdirs]
        found += [c for c in candidates if c.is_file()]
    return found
