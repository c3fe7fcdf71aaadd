"""CLI commands for the model: ``asm-lsp model status`` and ``asm-lsp complete FILE:LINE:COL``.

These are command-line tools (not the server), so they print to stdout. cli.py adds the
shared flags with :func:`add_model_arguments` and calls the ``*_main`` functions.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .store import ModelError, resolve_model, status_report

COMPLETE_HELP = (
    "FILE:LINE:COL with LINE and COL 1-based as editors show them; COL counts characters "
    "(a tab is one), COL may be omitted for the end of the line"
)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model flags shared by ``model status`` and ``complete`` (same names as settings)."""
    parser.add_argument("--model", default="", help="GGUF model file (default: the packaged base model)")
    parser.add_argument("--adapter", default="default", help='LoRA GGUF path, "default" (shipped) or "none"')
    parser.add_argument("--cache-dir", default="", help="cache folder (default: $XDG_CACHE_HOME/asm-lsp)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: physical cores)")
    parser.add_argument("--context-size", type=int, default=2048, help="model context in tokens")


def add_complete_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("position", metavar="FILE:LINE:COL", help=COMPLETE_HELP)
    parser.add_argument("--max-lines", type=int, default=8, help="most lines to suggest on an empty line")
    parser.add_argument("--time-budget-ms", type=int, default=60000, help="give up after this long (includes load)")
    parser.add_argument("--json", action="store_true", help="print a JSON object with timings instead of the text")
    add_model_arguments(parser)


def _settings(args: argparse.Namespace) -> tuple[str, str, str, str]:
    return (getattr(args, "model", "") or "", getattr(args, "adapter", "default") or "default",
            getattr(args, "cache_dir", "") or "", getattr(args, "model_size", "") or "0.5b")


def placement(model: Path | None, gpu_layers: int = -1) -> str:
    """Where llama.cpp would run ``model``, in words, without loading it.

    ``gpu_layers`` is ``model.gpuLayers``: -1 = auto (every layer when this llama.cpp build has a
    GPU backend), 0 = CPU only, N = the first N layers.
    """
    try:
        import llama_cpp

        gpu = bool(llama_cpp.llama_supports_gpu_offload())
    except (ImportError, AttributeError):
        return "nowhere yet (llama-cpp-python is not installed)"
    if not gpu:
        return "CPU (this llama-cpp-python has no GPU backend; see the README to build it with CUDA or Metal)"
    if gpu_layers == 0:
        return "CPU (asmLsp.model.gpuLayers is 0; this llama-cpp-python could use the GPU)"
    total = None
    if model is not None:
        from .lora_merge import MergeError, read_header

        try:
            metadata = read_header(model).metadata
            total = metadata.get(f"{metadata.get('general.architecture')}.block_count")
        except (MergeError, OSError):
            total = None
    of = f" of {total}" if isinstance(total, int) else ""
    if gpu_layers < 0 or (isinstance(total, int) and gpu_layers >= total):
        return f"GPU (all{of} layers offloaded)"
    return f"GPU and CPU ({gpu_layers}{of} layers offloaded)"


def model_status_main(args: argparse.Namespace) -> int:
    """Print which weights would be used and where they run (assembling and merging the model
    if needed). 0 if usable."""
    model_path, adapter, cache_dir, size = _settings(args)
    gpu_layers = getattr(args, "gpu_layers", None)
    gpu_layers = -1 if gpu_layers is None else gpu_layers
    try:
        files = resolve_model(model_path, adapter, cache_dir, size=size)
    except ModelError as e:
        print(status_report(model_path, adapter, cache_dir, size=size, placement=placement(None, gpu_layers)))
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(status_report(files=files, placement=placement(files.model, gpu_layers)))
    return 0


def parse_position(spec: str) -> tuple[Path, int, int | None]:
    """``FILE:LINE[:COL]`` (1-based) -> (path, 0-based line, 0-based column or None for end of line)."""
    parts = spec.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        path, line, col = parts[0], int(parts[1]), int(parts[2])
    else:
        parts = spec.rsplit(":", 1)
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"expected FILE:LINE:COL (1-based), got {spec!r}")
        path, line, col = parts[0], int(parts[1]), None
    if line < 1 or (col is not None and col < 1):
        raise ValueError(f"LINE and COL are 1-based, got {spec!r}")
    return Path(path), line - 1, None if col is None else col - 1


def complete_main(spec: str, args: argparse.Namespace) -> int:
    """Print the model's suggestion at FILE:LINE:COL. 0: printed one; 1: none; 2: error."""
    from .engine import CompletionEngine, CompletionRequest

    try:
        path, line, col = parse_position(spec)
        text = path.read_text(encoding="utf-8", errors="replace")
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    lines = text.split("\n")
    if line >= len(lines):
        print(f"error: {path} has {len(lines)} lines, asked for line {line + 1}", file=sys.stderr)
        return 2
    col = len(lines[line]) if col is None else min(col, len(lines[line]))
    model_path, adapter, cache_dir, size = _settings(args)
    budget_ms = getattr(args, "time_budget_ms", 60000)
    t0 = time.monotonic()
    engine = CompletionEngine(
        lambda: resolve_model(model_path, adapter, cache_dir, size=size),
        threads=getattr(args, "threads", 0),
        context_size=getattr(args, "context_size", 2048),
    )
    engine.start()
    try:
        if not engine.wait_ready(budget_ms / 1000):
            print(f"error: model not ready: {engine.status()}", file=sys.stderr)
            return 2
        load_ms = (time.monotonic() - t0) * 1000
        request = CompletionRequest(
            text, line, col, max_lines=getattr(args, "max_lines", 8),
            time_budget_ms=max(1, int(budget_ms - load_ms)), follow_up=False,
        )
        suggestion = engine.submit(request).result()
    finally:
        engine.close()
    if getattr(args, "json", False):
        print(json.dumps({
            "file": str(path), "line": line + 1, "col": col + 1,
            "text": suggestion.text if suggestion else None,
            "load_ms": round(load_ms), "completion_ms": round(suggestion.elapsed_ms) if suggestion else None,
            "prompt_tokens": suggestion.prompt_tokens if suggestion else None,
            "generated_tokens": suggestion.generated_tokens if suggestion else None,
        }))
    elif suggestion:
        print(suggestion.text)
    return 0 if suggestion else 1


def main(argv: list[str] | None = None) -> int:
    """Standalone entry for testing without cli.py: ``python -m asm_lsp.model.commands``."""
    parser = argparse.ArgumentParser(prog="asm-lsp")
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("model-status", help="which model files are used")
    add_model_arguments(status)
    complete = sub.add_parser("complete", help="print the suggestion at a place in a file")
    add_complete_arguments(complete)
    args = parser.parse_args(argv)
    if args.command == "model-status":
        return model_status_main(args)
    return complete_main(args.position, args)


if __name__ == "__main__":
    sys.exit(main())
