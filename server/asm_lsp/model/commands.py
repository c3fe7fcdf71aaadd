"""CLI commands for the model: ``asm-lsp model status`` and ``asm-lsp complete FILE:LINE:COL``.

These are command-line tools (not the server), so they print to stdout. Their flags are
parsed once, by ``asm_lsp.cli`` (the shared ``--model``, ``--adapter``, ``--cache-dir``,
``--model-size`` and each subcommand's own); ``asm_lsp.commands.run`` calls the ``*_main``
functions here with that namespace.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .store import ModelError, resolve_model, status_report

#: ``asm-lsp complete`` waits this long for the model, its loading included (a one-shot command
#: has no keystrokes to keep up with; the server's budget is completion.timeBudgetMs).
COMPLETE_BUDGET_MS = 60_000


def _settings(args: argparse.Namespace) -> tuple[str, str, str, str]:
    return (getattr(args, "model", "") or "", getattr(args, "adapter", "default") or "default",
            getattr(args, "cache_dir", "") or "", getattr(args, "model_size", "") or "0.5b")


def placement(model: Path | None, gpu_layers: int = -1) -> str:
    """Where llama.cpp would run ``model``, in words, without loading it.

    ``gpu_layers`` is ``model.gpuLayers``: -1 = auto (every layer when this llama.cpp build has a
    GPU backend), 0 = CPU only, N = the first N layers.
    """
    from .llama import gpu_offload_supported, import_llama_cpp

    try:
        import_llama_cpp()
    except ModelError:
        return "nowhere yet (llama-cpp-python is not installed)"
    if not gpu_offload_supported():
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


def complete_main(spec: str, args: argparse.Namespace) -> int:
    """Print the model's suggestion at FILE:LINE:COL. 0: printed one; 1: none; 2: error."""
    from asm_lsp.commands import parse_spec

    from .engine import CompletionEngine, CompletionRequest

    path, line, col = parse_spec(spec)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    lines = text.split("\n")
    if line >= len(lines):
        print(f"error: {path} has {len(lines)} lines, asked for line {line + 1}", file=sys.stderr)
        return 2
    col = min(col, len(lines[line]))
    model_path, adapter, cache_dir, size = _settings(args)
    budget_ms = COMPLETE_BUDGET_MS
    t0 = time.monotonic()
    engine = CompletionEngine(
        lambda: resolve_model(model_path, adapter, cache_dir, size=size),
        threads=args.threads,
    )
    engine.start()
    try:
        if not engine.wait_ready(budget_ms / 1000):
            print(f"error: model not ready: {engine.status()}", file=sys.stderr)
            return 2
        load_ms = (time.monotonic() - t0) * 1000
        request = CompletionRequest(
            text, line, col, max_lines=args.max_lines, wait_lines=args.max_lines if args.all_lines else 0,
            time_budget_ms=max(1, int(budget_ms - load_ms)), follow_up=False,
        )
        suggestion = engine.submit(request).result()
    finally:
        engine.close()
    if args.json:
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
