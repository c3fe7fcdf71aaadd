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
    """LoRA adapter (GGUF): "default" = the one shipped with asm-lsp (merged into the model on
    first use, so it costs nothing per token), "none", or a path (applied at run time)."""
    size: str = "0.5b"
    """The packaged model: "0.5b" (default, with our adapter) or "1.5b" (optional packages
    `pip install 'asm-lsp-aarch64[model-1.5b]'`, with its own adapter, asm-lora-1.5b.gguf). Ignored
    when `path` is set."""
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
    cold_window: bool = True
    """When nothing of the prompt is cached (the first request in a file, a jump elsewhere), answer
    from a short window (~200 tokens: ~1.2 s instead of ~4.5 s on 2 cores) and evaluate the full
    one in the background for the requests that follow. On by default: within the 2 s budget a
    cold full window (~720 tokens) is never answered on 2 cores, and side by side with the budget
    lifted the short window's first lines were right as often (bench/results/typing_replay_quick.md,
    open and ask: 2 of 5 exact vs 0 of 5, 0 vs 1 empty; a small sample on a loaded machine).
    `asm-lsp complete` (one shot) keeps the full window."""


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
    repo_context: bool = False
    """Put other code of the workspace before the window (Qwen's repo-level format): the
    definitions of what the function calls or loads, and its most similar function from the
    embeddings index. Off by default: with the round-two model it changed little (first line
    right 16 vs 15 of 40 case holes) for ~100 more prompt tokens once per function
    (bench/results/repo_context.md); a model trained with it may use it better."""


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
class AnalysisSettings:
    mca_path: str = ""
    """llvm-mca program for pipeline analysis; empty = llvm-mca (or llvm-mca-NN) on PATH. User settings only."""
    cpu: str = "neoverse-n1"
    """Target CPU for llvm-mca (-mcpu), e.g. cortex-a72, neoverse-n1, apple-m1."""
    mattr: str = ""
    """Extra target features for llvm-mca (-mattr), e.g. "+sve"; empty = the CPU's own."""
    mca_on_hover: bool = False
    """Add llvm-mca's summary to the hover of a function label (runs llvm-mca, ~0.3 s, on each new function text)."""
    timeout_ms: int = 10000
    """Stop llvm-mca after this long."""


@dataclass
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    assembler: AssemblerSettings = field(default_factory=AssemblerSettings)
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)


_CHOICES = {("completion", "mode"): ("inline", "list", "both"), ("model", "size"): ("0.5b", "1.5b")}
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
    ("analysis", "timeout_ms"): (100, 600000),
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


# -- layering ------------------------------------------------------------------------------

#: Settings that name programs or files: trusted only from the user, never from the workspace.
_PROGRAM_KEYS = (("assembler", "path"), ("model", "path"), ("model", "cacheDir"), ("model", "cache_dir"),
                 ("analysis", "mcaPath"), ("analysis", "mca_path"))
#: Assembler flags a workspace may set: target selection and the like, nothing that writes files.
_SAFE_FLAG_PREFIXES = ("-march=", "-mcpu=", "-mabi=", "-I", "--defsym", "-EL", "-EB", "-W", "--fatal-warnings",
                       "-g", "--gdwarf", "-mverbose-error", "-mno-verbose-error")
#: Where the user's own settings arrive; every other source is workspace configuration.
USER_SOURCE = "initializationOptions"


def restrict_workspace_settings(raw: dict) -> tuple[dict, list[str]]:
    """``raw`` without what a workspace must not set; also the dotted keys that were dropped."""
    cleaned = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    dropped = []
    for section, key in _PROGRAM_KEYS:
        part = cleaned.get(section)
        if isinstance(part, dict) and part.get(key):
            del part[key]
            dropped.append(f"asmLsp.{section}.{key}")
    model = cleaned.get("model")
    if isinstance(model, dict) and model.get("adapter") not in (None, "", "default", "none"):
        del model["adapter"]
        dropped.append("asmLsp.model.adapter")
    assembler = cleaned.get("assembler")
    if isinstance(assembler, dict) and isinstance(assembler.get("flags"), list):
        safe = [f for f in assembler["flags"] if isinstance(f, str) and f.startswith(_SAFE_FLAG_PREFIXES)]
        if len(safe) != len(assembler["flags"]):
            dropped.append("asmLsp.assembler.flags (" + ", ".join(
                repr(f) for f in assembler["flags"] if f not in safe) + ")")
            assembler["flags"] = safe
    return cleaned, dropped


def deep_merge(base: dict, top: dict) -> dict:
    """``base`` with ``top`` laid over it, objects merged key by key."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class SettingsLayers:
    """The settings of a session, layered lowest first: the client's initializationOptions
    (the user's), the workspace configuration, then ``overrides`` (command-line flags).

    Workspace configuration may come from files checked into the opened folder (e.g.
    ``.vscode/settings.json``), so it cannot name programs or model files, nor pass
    assembler flags that write files: those keys are dropped with a message.
    """

    overrides: dict = field(default_factory=dict)
    user: dict = field(default_factory=dict)
    workspace: dict = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    """Problems already returned: a later layer repeats an earlier layer's problems."""

    def apply(self, raw: Any, source: str) -> tuple[Settings, list[str]]:
        """Take ``raw`` as the layer ``source`` (``USER_SOURCE`` or a workspace source); return
        the merged settings and the problems not reported before."""
        problems: list[str] = []
        if raw is not None and not isinstance(raw, dict):
            problems.append(f"settings must be an object, got {type(raw).__name__}")
            raw = {}
        raw = raw or {}
        if source == USER_SOURCE:
            self.user = raw
        else:
            self.workspace, dropped = restrict_workspace_settings(raw)
            problems += [f"{key} is ignored in workspace settings (set it in your user settings "
                         "or on the command line)" for key in dropped]
        settings, found = settings_from_dict(deep_merge(deep_merge(self.user, self.workspace), self.overrides))
        new = [p for p in dict.fromkeys(problems + found) if p not in self.reported]
        self.reported.update(new)
        return settings, new
