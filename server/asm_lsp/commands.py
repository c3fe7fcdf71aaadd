"""Shell subcommands (``asm-lsp symbols|check|hover|complete|model|similar|index|mca``).

These print to stdout: they are commands, not the server.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from asm_lsp.settings import settings_from_dict
from asm_lsp.workspace.index import WorkspaceIndex, read_text


def parse_spec(spec: str) -> tuple[Path, int, int]:
    """``FILE:LINE:COL`` (1-based) as (path, 0-based line, 0-based column)."""
    try:
        path, line, col = spec.rsplit(":", 2)
        return Path(path), max(0, int(line) - 1), max(0, int(col) - 1)
    except ValueError:
        raise SystemExit(f"asm-lsp: expected FILE:LINE:COL with 1-based numbers, got {spec!r}") from None


def _uri(path: Path) -> str:
    return path.resolve().as_uri()


def _load(index: WorkspaceIndex, path: Path) -> Any:
    try:
        return index.update(_uri(path), read_text(path))
    except OSError as exc:
        raise SystemExit(f"asm-lsp: cannot read {path}: {exc}") from None


def symbols_main(files: list[Path]) -> int:
    index = WorkspaceIndex()
    for path in files:
        doc = _load(index, path)
        print(f"{path}: {len(doc.functions)} functions, {len(doc.labels)} labels, {len(doc.lines)} lines")
        for function in doc.functions:
            print(f"  {function.name}  lines {function.start_line + 1}-{function.end_line + 1}"
                  f"  ({len(function.local_labels)} local labels)")
            for label in function.local_labels:
                print(f"    {label.name}  line {label.line + 1}")
    return 0


def check_main(files: list[Path], overrides: dict[str, Any]) -> int:
    from asm_lsp.assembler import AssemblerNotFound, find_assembler
    from asm_lsp.features.diagnostics import assemble_document, include_message, label_diagnostics
    from asm_lsp.syntax import parse
    from asm_lsp.workspace.includes import IncludeResolver

    settings, problems = settings_from_dict(overrides)
    for problem in problems:
        print(f"asm-lsp: {problem}", file=sys.stderr)
    try:
        asm = find_assembler(settings.assembler.path, settings.assembler.flags)
    except AssemblerNotFound as exc:
        print(f"asm-lsp: {exc}", file=sys.stderr)
        asm = None
    errors = 0
    # The current folder is the workspace: its compile_commands.json, then the fallbacks.
    resolver = IncludeResolver([Path.cwd()], settings.assembler.include_paths, settings.assembler.defines)
    for path in files:
        text = read_text(path)
        found: list[tuple[int, int, str, str]] = []
        if asm is not None:
            result, plan = assemble_document(asm, resolver, path.resolve(), text, settings.assembler.timeout_ms / 1000)
            if result.failed_to_run:
                print(f"asm-lsp: {result.failed_to_run}", file=sys.stderr)
            if result.include_failure is not None:  # the one message, as the server shows it
                print(f"{path}:{result.include_failure.line + 1}:1: info: {include_message(result.include_failure, plan)}")
                continue
            found += [(m.line, (m.column or 0), m.severity, m.message) for m in result.messages]
        for diag in label_diagnostics(parse(text)):
            found.append((diag.range.start.line, diag.range.start.character, "error", diag.message))
        for line, col, severity, message in sorted(found):
            print(f"{path}:{line + 1}:{col + 1}: {severity}: {message}")
            errors += severity == "error"
    return 1 if errors else 0


def hover_main(spec: str) -> int:
    from asm_lsp.features.hover import hover

    path, line, col = parse_spec(spec)
    index = WorkspaceIndex()
    for sibling in sorted(path.parent.glob("*.[sS]")):
        if sibling.resolve() != path.resolve():
            _load(index, sibling)
    doc = _load(index, path)
    result = hover(index, _uri(path), doc, line, col)
    if result is None:
        print("(nothing to show here)")
        return 1
    print(result.contents.value)  # type: ignore[union-attr]
    return 0


def run(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    if args.command == "symbols":
        return symbols_main(args.files)
    if args.command == "check":
        return check_main(args.files, overrides)
    if args.command == "hover":
        return hover_main(args.spec)
    if args.command in ("complete", "model"):
        from asm_lsp.model import commands as model_commands

        if args.command == "complete":
            return model_commands.complete_main(args.spec, args)
        return model_commands.model_status_main(args)  # "fetch" too: resolving assembles the model
    if args.command in ("similar", "index"):
        from asm_lsp.embed import commands as embed_commands

        return embed_commands.run(args, overrides)
    if args.command == "mca":
        from asm_lsp.analysis import commands as analysis_commands

        return analysis_commands.mca_main(args, overrides)
    raise SystemExit(f"asm-lsp: unknown command {args.command}")
