"""``asm-lsp similar PATH... [--function NAME] [--top K] [--workspace DIR]`` and ``asm-lsp index DIR``.

Commands print results to stdout and progress to stderr. Exit status: 0 ok, 1 nothing
found (no such function), 2 the model is unavailable.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from asm_lsp.settings import settings_from_dict
from asm_lsp.workspace.index import read_text

from .service import SimilarFunctions, _path_of


def _service(overrides: dict[str, Any]) -> SimilarFunctions:
    settings, problems = settings_from_dict(overrides)
    for problem in problems:
        print(f"asm-lsp: {problem}", file=sys.stderr)
    settings.index.embeddings = True
    last = [0.0]

    def progress(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if sys.stderr.isatty() and now - last[0] > 0.5:
            last[0] = now
            print(f"\r{message}: {done:,}/{total:,} functions embedded", end="", file=sys.stderr, flush=True)

    return SimilarFunctions(settings, progress=progress, debounce_s=0.0, background=False)


def _finish(service: SimilarFunctions) -> bool:
    """Wait for the work; False (and a message) if the model failed."""
    service.wait_idle()
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if "error" in service.status():
        print(f"asm-lsp: {service.status()}", file=sys.stderr)
        return False
    return True


def _relative(uri: str, workspace: Path) -> str:
    """A workspace file as a path inside the workspace (``src/a.s``), whatever the current
    folder; anything else (an open file outside it) as its absolute path."""
    path = Path(_path_of(uri))
    try:
        return path.relative_to(workspace).as_posix()
    except ValueError:
        return str(path)


def similar_main(paths: list[Path], function: str | None, top: int, workspace: Path,
                 overrides: dict[str, Any]) -> int:
    if (overrides.get("model") or {}).get("enabled") is False:
        print("asm-lsp: similar needs the code model (drop --no-model)", file=sys.stderr)
        return 2
    service = _service(overrides)
    uris = []
    try:
        service.start([workspace])
        for path in paths:
            try:
                text = read_text(path)
            except OSError as e:
                raise SystemExit(f"asm-lsp: cannot read {path}: {e}") from None
            uri = path.resolve().as_uri()
            uris.append((path, uri))
            service.update_document(uri, text)
        if not _finish(service):
            return 2
        base = workspace.resolve()
        shown = 0
        for path, uri in uris:
            for entry in service.index.entries(uri):
                if function is not None and entry.name != function:
                    continue
                shown += 1
                print(f"{path}:{entry.line + 1}: {entry.name}")
                hits = service.similar(uri, entry.name, top)
                if not hits:
                    print("  (no other functions indexed)")
                for hit in hits:
                    print(f"  {hit.score:.3f}  {_relative(hit.uri, base)}:{hit.line + 1}  {hit.name}")
        if shown == 0:
            what = f"function {function!r}" if function else "functions"
            print(f"asm-lsp: no {what} in {', '.join(map(str, paths))}", file=sys.stderr)
            return 1
        return 0
    finally:
        service.close()


def index_main(directory: Path, overrides: dict[str, Any]) -> int:
    if not directory.is_dir():
        raise SystemExit(f"asm-lsp: {directory} is not a folder")
    if (overrides.get("model") or {}).get("enabled") is False:
        print("asm-lsp: index computes embeddings with the code model (drop --no-model)", file=sys.stderr)
        return 2
    service = _service(overrides)
    t0 = time.monotonic()
    try:
        service.start([directory])
        ok = _finish(service)
        done, total = service.counts()
        stats = service.stats
        print(f"{directory}: {stats['scanned_files']:,} files, {total:,} functions, {done:,} with embeddings "
              f"({stats['embedded']:,} computed, {stats['from_cache']:,} from cache) in {time.monotonic() - t0:.1f} s; "
              f"cache {service.cache_path}")
        return 0 if ok else 2
    finally:
        service.close()


def run(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    if args.command == "similar":
        return similar_main(args.paths, args.function, args.top, args.workspace, overrides)
    if args.command == "index":
        return index_main(args.directory, overrides)
    raise SystemExit(f"asm-lsp: unknown command {args.command}")
