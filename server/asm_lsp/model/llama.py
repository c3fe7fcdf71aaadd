"""The one way to load llama.cpp: every user of a ``llama_cpp.Llama`` calls :func:`load_llama`.

It brings, in one place, what each copy of the recipe had to remember:

- ``OMP_WAIT_POLICY=passive`` before llama_cpp loads libgomp: the default busy-wait makes
  llama.cpp's 2+ threads crawl when anything else wants the CPU (measured on 2 busy cores:
  decode 0.4 tok/s active vs 7.4 tok/s passive). Importing this module sets it.
- stdout stays clean: llama-cpp-python with ``verbose=False`` dup2()s fd 1 to /dev/null
  while it loads, which would swallow any JSON-RPC message another server thread writes
  meanwhile. So we load with ``verbose=True``, route llama.cpp's C log to the
  ``asm_lsp.model.llama_cpp`` logger (``route_llama_logs``) and capture llama-cpp-python's
  own Python prints to stderr while loading.
- llama.cpp's AMX weight buffers crash in mul_mat on some AMX hosts (seen with 0.3.36 built
  natively): there the model is loaded with ``use_extra_bufts = False``
  (``ASM_LSP_LLAMA_EXTRA_BUFFERS=1`` keeps them).
- An adapter llama.cpp refuses raises ``ModelError``: llama-cpp-python checks the handle
  against None but gets a NULL pointer object, so it would silently run without it.
- ``gpu_layers``: -1 = auto (every layer when llama.cpp has a GPU backend, else 0).
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import threading
from pathlib import Path
from typing import Any

from .store import ModelError

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before llama_cpp loads libgomp

llama_log = logging.getLogger("asm_lsp.model.llama_cpp")

AUTO_GPU_LAYERS = -1


def import_llama_cpp() -> Any:
    """``llama_cpp``, or ModelError saying how to install it."""
    try:
        import llama_cpp
    except ImportError as e:
        raise ModelError(
            f"llama-cpp-python is not installed ({e}); run `pip install 'asm-lsp-aarch64[model]'`") from e
    return llama_cpp


def physical_cores() -> int:
    """Physical cores available to this process (hyper-threads make llama.cpp slower)."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        physical = core = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    physical = value.strip()
                elif key == "core id":
                    core = value.strip()
                    cores.add((physical, core))
    except OSError:
        pass
    return max(1, min(available, len(cores) or available))


def adapter_refused(adapter: Path | str, model: Path | str) -> ModelError:
    """The error for a LoRA adapter llama.cpp would not load onto ``model``."""
    return ModelError(
        f"LoRA adapter {adapter} does not fit the base model {Path(model).name} (llama.cpp refused it); "
        "set asmLsp.model.adapter to \"none\" or to an adapter made for this model")


def check_adapter_applied(llm: Any, adapter: Path | str | None, model: Path | str) -> None:
    """Raise ModelError (closing ``llm``) if llama.cpp refused ``adapter``."""
    if adapter and not getattr(llm, "_lora_adapter", True):
        llm.close()
        raise adapter_refused(adapter, model)


# ---------------------------------------------------------------- llama.cpp logging

_log_callback: Any = None  # the ctypes callback must outlive every llama.cpp call
_log_lock = threading.Lock()


def route_llama_logs() -> None:
    """Send llama.cpp's C-level log to the ``asm_lsp.model.llama_cpp`` logger (never stdout)."""
    global _log_callback
    llama_cpp = import_llama_cpp()
    with _log_lock:
        if _log_callback is not None:
            return
        # ggml_log_level: 0 NONE, 1 DEBUG, 2 INFO, 3 WARN, 4 ERROR, 5 CONT(inue the previous)
        # llama.cpp's INFO is per-load detail (tensor lists, metadata): DEBUG for us.
        levels = {1: logging.DEBUG, 2: logging.DEBUG, 3: logging.WARNING, 4: logging.ERROR}
        partial: list[str] = []
        current = [logging.DEBUG]

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            try:
                if level != 5:
                    current[0] = levels.get(level, logging.DEBUG)
                partial.append(text.decode("utf-8", "replace"))
                if partial[-1].endswith("\n"):
                    message = "".join(partial).rstrip()
                    partial.clear()
                    if message:
                        llama_log.log(current[0], "%s", message)
            except Exception:  # a C callback must never raise
                pass

        _log_callback = callback
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def system_info() -> str:
    return import_llama_cpp().llama_print_system_info().decode("utf-8", "replace")


def avoid_extra_buffers() -> bool:
    """Whether to load without llama.cpp's extra (AMX) weight buffers on this host."""
    return "AMX_INT8 = 1" in system_info() and not os.environ.get("ASM_LSP_LLAMA_EXTRA_BUFFERS")


@contextlib.contextmanager
def extra_buffers_off(enabled: bool = True):
    """While constructing a ``Llama``: load with ``use_extra_bufts = False`` (see the module
    docstring). Llama() has no parameter for it, so patch the defaults it reads."""
    if not enabled:
        yield
        return
    import llama_cpp.llama_cpp as C

    original = C.llama_model_default_params

    def patched():
        params = original()
        params.use_extra_bufts = False
        return params

    C.llama_model_default_params = patched
    try:
        yield
    finally:
        C.llama_model_default_params = original


# ---------------------------------------------------------------- GPU

def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build has a GPU backend (CUDA, Metal, Vulkan, ...)."""
    try:
        return bool(import_llama_cpp().llama_supports_gpu_offload())
    except (ModelError, AttributeError):
        return False


def resolve_gpu_layers(setting: int) -> int:
    """``model.gpuLayers`` as llama.cpp's ``n_gpu_layers``: auto (-1) = all layers (-1 to
    llama.cpp) with a GPU backend, else 0; a count is passed on (0 = CPU only)."""
    if setting < 0:
        return -1 if gpu_offload_supported() else 0
    return setting


def placement(llm: Any, gpu_layers: int) -> str:
    """Where the loaded model runs, in words: "CPU" or "GPU (N of M layers)"."""
    if gpu_layers == 0 or not gpu_offload_supported():
        return "CPU"
    llama_cpp = import_llama_cpp()
    total = int(llama_cpp.llama_model_n_layer(llm._model.model))
    on_gpu = total if gpu_layers < 0 else min(gpu_layers, total)
    # llama.cpp also offloads the output layer when every repeating layer is on the GPU.
    return f"GPU ({on_gpu} of {total} layers)"


# ---------------------------------------------------------------- loading

def load_llama(
    model: Path | str,
    adapter: Path | str | None = None,
    *,
    n_ctx: int = 2048,
    n_batch: int = 512,
    threads: int = 0,
    gpu_layers: int = AUTO_GPU_LAYERS,
    **options: Any,
) -> Any:
    """A ``llama_cpp.Llama`` of ``model`` (+ LoRA ``adapter``), loaded the one way.

    ``threads`` 0 = physical cores; ``gpu_layers`` see :func:`resolve_gpu_layers`; further
    ``options`` go to ``Llama`` (``embedding``, ``pooling_type``, ``logits_all``, ...).
    Raises ModelError when llama-cpp-python is missing or the adapter is refused; other load
    failures raise what llama-cpp-python raises (a missing file: ValueError).
    """
    llama_cpp = import_llama_cpp()
    route_llama_logs()
    threads = threads if threads > 0 else physical_cores()
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured), extra_buffers_off(avoid_extra_buffers()):
        llm = llama_cpp.Llama(
            model_path=str(model),
            lora_path=str(adapter) if adapter else None,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_ubatch=n_batch,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=resolve_gpu_layers(gpu_layers),
            verbose=True,  # see the module docstring: verbose=False dup2()s fd 1 away
            **options,
        )
    if captured.getvalue():
        llama_log.debug("%s", captured.getvalue().rstrip())
    check_adapter_applied(llm, adapter, model)
    return llm
