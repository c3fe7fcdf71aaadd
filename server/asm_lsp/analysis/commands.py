"""``asm-lsp mca FILE[:LINE | :FIRST-LAST] [--cpu CPU] [--mattr +sve] [--llvm-mca PATH] [--json]``.

llvm-mca's summary for the function holding 1-based LINE, for lines FIRST-LAST, or for
every function of FILE. Prints Markdown (or JSON) to stdout; exit status 0 ok, 1 nothing
to analyse, 2 llvm-mca missing, hung or failed.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from asm_lsp.analysis.mca import McaError, build_input, find_mca, run_mca
from asm_lsp.settings import settings_from_dict
from asm_lsp.syntax import parse
from asm_lsp.workspace.index import read_text

_SPEC = re.compile(r"^(?P<path>.+?)(?::(?P<first>\d+)(?:-(?P<last>\d+))?)?$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="FILE (every function), FILE:LINE (the function holding 1-based LINE) "
                                     "or FILE:FIRST-LAST (those lines)")
    parser.add_argument("--cpu", help="target CPU (default: asmLsp.analysis.cpu, neoverse-n1)")
    parser.add_argument("--mattr", help="extra target features, e.g. +sve")
    parser.add_argument("--llvm-mca", dest="llvm_mca", help="llvm-mca program (default: llvm-mca on PATH)")
    parser.add_argument("--json", action="store_true", help="print the parsed reports as JSON")


def mca_main(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    settings, problems = settings_from_dict(overrides)
    for problem in problems:
        print(f"asm-lsp: {problem}", file=sys.stderr)
    cfg = settings.analysis
    cpu = args.cpu or cfg.cpu
    match = _SPEC.match(args.spec)
    path = Path(match.group("path") if match else args.spec)
    try:
        doc = parse(read_text(path))
    except OSError as exc:
        raise SystemExit(f"asm-lsp: cannot read {path}: {exc}") from None
    targets: list[tuple[str, int, int]] = []
    if match and match.group("last"):
        first, last = int(match.group("first")) - 1, int(match.group("last")) - 1
        targets.append((f"lines {first + 1}–{last + 1} of {path.name}", first, last))
    elif match and match.group("first"):
        function = doc.function_at(int(match.group("first")) - 1)
        if function is None:
            print(f"asm-lsp: line {match.group('first')} of {path} is not inside a function", file=sys.stderr)
            return 1
        targets.append((f"`{function.name}` ({path.name}:{function.start_line + 1}–{function.end_line + 1})",
                        function.start_line, function.end_line))
    else:
        targets += [(f"`{f.name}` ({path.name}:{f.start_line + 1}–{f.end_line + 1})", f.start_line, f.end_line)
                    for f in doc.functions]
    if not targets:
        print(f"asm-lsp: no functions in {path}; give FILE:FIRST-LAST", file=sys.stderr)
        return 1
    try:
        program = find_mca(args.llvm_mca or cfg.mca_path)
    except McaError as exc:
        print(f"asm-lsp: {exc}", file=sys.stderr)
        return 2
    reports = []
    status = 0
    for where, first, last in targets:
        try:
            report = run_mca(program, build_input(doc, first, last), cpu, args.mattr or cfg.mattr, cfg.timeout_ms / 1000)
        except McaError as exc:
            print(f"asm-lsp: {where}: {exc}", file=sys.stderr)
            status = 2
            continue
        if args.json:
            reports.append({"target": where, **report.as_dict()})
        else:
            print(report.markdown(where) + "\n")
    if args.json:
        print(json.dumps(reports, indent=2, ensure_ascii=False))
    return status
