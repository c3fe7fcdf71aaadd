"""Typed, fully defaulted settings (section ``asmLsp``).

Clients send camelCase keys (``maxLines``); fields are snake_case. Unknown keys and
values of the wrong type are dropped with a problem message; the default stays.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelSettings:
    enabled: bool = True
    """Run the code model at all (completions and embeddings)."""
    path: str = ""
    """A GGUF model file; empty = the embedded base model from the model packages."""
    adapter: str = "default"
    """LoRA adapter (GGUF): "default" = the one shipped with asm-lsp, "none", or a path."""
    threads: int = 0
    """CPU threads for llama.cpp; 0 = number of physical cores."""
    gpu_layers: int = -1
    """Model layers to run on the GPU: -1 = auto (all of them when llama.cpp was built with a GPU
    backend such as CUDA or Metal, else 0), 0 = CPU only."""
    context_size: int = 2048
    """llama.cpp context length in tokens."""
    cache_dir: str = ""
    """Where the assembled base model is kept; empty = $XDG_CACHE_HOME/asm-lsp."""
    kv_shift: bool = True
    """When the prompt window moves down, keep the KV cache of the lines still in view (shift
    their positions) instead of evaluating them again: faster, close to but not exactly the same. On by default:
    at the window moves of a replay it took 0.12-0.17 s instead of 2.2-4.2 s, and its suggestions
    matched what was typed as often (37 vs 35 exact first lines; bench/results/kv_shift.md)."""
    cold_window: bool = False
    """When nothing of the prompt is cached (the first request in a file, a jump elsewhere), answer
    from a short window (~200 tokens: ~1.2 s instead of ~4.5 s on 2 cores) and evaluate the full
    one in the background for the requests that follow. Off by default: the short-window answer
    is less often right, and one-shot callers (benchmarks, `asm-lsp complete`) get only that one."""


@dataclass
class CompletionSettings:
    enabled: bool = True
    """Offer model suggestions."""
    mode: str = "both"
    """"inline" (ghost text), "list" (first completion item) or "both"."""
    max_lines: int = 8
    """Most lines of a multi-line suggestion on an empty line."""
    check_with_assembler: bool = False
    """Show only suggestions whose insertion assembles cleanly. Off by default: in the typing
    replay it answered 39 % of pause points instead of 76 %, at the same execution pass rate."""
    candidates: int = 3
    """Most suggestions in the inline list, best first (the extra ones come from lines already
    decoded, never waited for); with checkWithAssembler, how many candidates to try."""
    time_budget_ms: int = 2000
    """Give up on a suggestion after this long."""


@dataclass
class AssemblerSettings:
    path: str = ""
    """Assembler program; empty = aarch64-linux-gnu-as, llvm-mc, or as on an AArch64 host."""
    flags: list[str] = field(default_factory=list)
    """Extra arguments, e.g. ["-march=armv8.2-a+sve"]."""
    timeout_ms: int = 5000
    """Kill the assembler after this long."""
    include_paths: list[str] = field(default_factory=list)
    """Folders searched for #include/.include after the build's compile_commands.json
    (relative ones: to the workspace root). A workspace may set them: they only name files to read."""
    defines: list[str] = field(default_factory=list)
    """Macros for the C preprocessor of .S files, "NAME" or "NAME=VALUE" (as -D would)."""


@dataclass
class DiagnosticsSettings:
    enabled: bool = True
    """Assemble the unsaved buffer and report its messages."""
    debounce_ms: int = 300
    """Wait this long after the last keystroke before assembling."""


@dataclass
class IndexSettings:
    enabled: bool = True
    """Index the workspace's .s/.S files at start."""
    embeddings: bool = True
    """Compute function embeddings for similar-function hovers."""
    max_files: int = 20000
    """Index at most this many files."""


@dataclass
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    assembler: AssemblerSettings = field(default_factory=AssemblerSettings)
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    index: IndexSettings = field(default_factory=IndexSettings)


_CHOICES = {("completion", "mode"): ("inline", "list", "both")}
_RANGES = {
    ("model", "threads"): (0, 256),
    ("model", "gpu_layers"): (-1, 1000),
    ("model", "context_size"): (256, 32768),
    ("completion", "max_lines"): (1, 64),
    ("completion", "candidates"): (1, 16),
    ("completion", "time_budget_ms"): (50, 600000),
    ("assembler", "timeout_ms"): (100, 120000),
    ("diagnostics", "debounce_ms"): (0, 10000),
    ("index", "max_files"): (1, 1000000),
}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _coerce(section: str, name: str, default: Any, value: Any) -> tuple[Any, str | None]:
    where = f"asmLsp.{section}.{name}"
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value, None
        return default, f"{where} must be true or false, got {value!r}"
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            return default, f"{where} must be a whole number, got {value!r}"
        low, high = _RANGES.get((section, name), (-(2**31), 2**31))
        if not low <= int(value) <= high:
            return default, f"{where} must be between {low} and {high}, got {value!r}"
        return int(value), None
    if isinstance(default, str):
        if not isinstance(value, str):
            return default, f"{where} must be a string, got {value!r}"
        choices = _CHOICES.get((section, name))
        if choices and value not in choices:
            return default, f"{where} must be one of {', '.join(choices)}, got {value!r}"
        return value, None
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return default, f"{where} must be a list of strings, got {value!r}"
        return list(value), None
    return default, f"{where} has an unsupported type"


def settings_from_dict(raw: Any) -> tuple[Settings, list[str]]:
    """Build settings from a client's JSON; return them and a list of problems found.

    Never raises: anything unusable falls back to its default and is reported.
    """
    settings = Settings()
    problems: list[str] = []
    if raw is None:
        return settings, problems
    if not isinstance(raw, dict):
        return settings, [f"asmLsp settings must be an object, got {type(raw).__name__}"]
    if isinstance(raw.get("asmLsp"), dict):  # some clients nest the section name
        raw = raw["asmLsp"]
    for section_key, section_value in raw.items():
        section_name = _snake(str(section_key))
        section = getattr(settings, section_name, None)
        if section is None or not dataclasses.is_dataclass(section):
            problems.append(f"unknown setting asmLsp.{section_key} (ignored)")
            continue
        if not isinstance(section_value, dict):
            problems.append(f"asmLsp.{section_key} must be an object (ignored)")
            continue
        known = {f.name: f for f in dataclasses.fields(section)}
        for key, value in section_value.items():
            name = _snake(str(key))
            if name not in known:
                problems.append(f"unknown setting asmLsp.{section_key}.{key} (ignored)")
                continue
            new, problem = _coerce(section_name, name, getattr(section, name), value)
            setattr(section, name, new)
            if problem:
                problems.append(problem + "; using the default")
    return settings, problems
