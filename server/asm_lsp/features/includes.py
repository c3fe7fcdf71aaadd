"""Go to definition and hover on ``#include``/``.include`` lines: the included file."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from asm_lsp.features.positions import lsp_range
from asm_lsp.workspace.includes import IncludeDirective, IncludeResolver, include_at


def _target(resolver: IncludeResolver, uri: str, lines: Sequence[str], line: int,
            col: int) -> tuple[IncludeDirective, Path | None] | None:
    directive = include_at(lines, line, col)
    path = to_fs_path(uri)
    if directive is None or not path:
        return None
    return directive, resolver.resolve(Path(path), directive.name, directive.system)


def definition(resolver: IncludeResolver, uri: str, lines: Sequence[str], line: int,
               col: int) -> list[types.Location] | None:
    """The included file's start, for a cursor on an include line (0-based line, code-point col)."""
    found = _target(resolver, uri, lines, line, col)
    if found is None or found[1] is None:
        return None
    target = from_fs_path(str(found[1]))
    if target is None:
        return None
    start = types.Position(line=0, character=0)
    return [types.Location(uri=target, range=types.Range(start=start, end=start))]


def hover(resolver: IncludeResolver, uri: str, lines: Sequence[str], line: int, col: int) -> types.Hover | None:
    """Where the included file is (or that it was not found, and where to say where it is)."""
    found = _target(resolver, uri, lines, line, col)
    if found is None:
        return None
    directive, path = found
    if path is None:
        text = (f"**{directive.name}** — not found in the file's folder, the build's compile_commands.json "
                "folders, asmLsp.assembler.includePaths or the workspace")
    else:
        try:
            count = path.read_bytes().count(b"\n")
            size = f", {count:,} lines"
        except OSError:
            size = ""
        text = f"**{directive.name}** — `{path}`{size}"
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=lsp_range(lines, line, directive.start, directive.end))


def check_options(resolver: IncludeResolver, uri: str, text: str) -> dict[str, Any]:
    """Keyword arguments for ``assembler.insertion_assembles`` on the document ``uri`` with the
    buffer ``text``: the preprocessor for ``.S`` and the include search, so that the whole file
    can be checked where its includes are found. Reads files: call it off the event loop
    (the engine's worker, where the check runs)."""
    path = to_fs_path(uri)
    if not path:
        return {}
    plan = resolver.plan(Path(path), text)
    return {"preprocess": Path(path).suffix in (".S", ".sx"), "cpp_args": plan.cpp_args, "as_args": plan.as_args}
